//! A directory as the API shows it: its subdirectories and audio files in natural order,
//! without dotfiles, and the picture file that stands for its cover.

use tapedeck_guest::mime;

use crate::media::picture;
use crate::natural;

/// What an entry is, symlinks followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// A directory entry, as the host's filesystem reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name in the directory.
    pub name: String,
    /// File or directory.
    pub kind: Kind,
    /// Bytes, for a file.
    pub size: u64,
    /// Modification time: seconds and nanoseconds after the Unix epoch.
    pub modified: (u64, u32),
}

/// The stems of picture files that stand for a directory's cover, in order of preference.
const COVER_STEMS: [&str; 3] = ["cover", "folder", "front"];

/// Where `name` ranks as a cover picture file, if it is one: by stem, then extension.
fn cover_rank(name: &str) -> Option<(usize, usize)> {
    let (stem, extension) = name.rsplit_once('.')?;
    let stem = COVER_STEMS.iter().position(|known| known.eq_ignore_ascii_case(stem))?;
    picture::image_type(name)?;
    let extension =
        ["jpg", "jpeg", "png", "webp"].iter().position(|e| e.eq_ignore_ascii_case(extension))?;
    Some((stem, extension))
}

/// Whether an entry named `name` is hidden from listings: dotfiles and dot-directories.
pub fn hidden(name: &str) -> bool {
    name.is_empty() || name.starts_with('.')
}

/// Whether a file named `name` matters to a listing: an audio file or a cover picture.
/// Listings stat only these (and directories).
pub fn wanted_file(name: &str) -> bool {
    !hidden(name) && (mime::audio_type(name).is_some() || cover_rank(name).is_some())
}

/// A directory's listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Subdirectories, in natural order.
    pub dirs: Vec<Entry>,
    /// Audio files, in natural order.
    pub tracks: Vec<Entry>,
    /// The cover picture file, if there is one.
    pub cover: Option<Entry>,
}

impl Listing {
    /// Sorts and filters the entries of a directory.
    pub fn new(entries: Vec<Entry>) -> Self {
        let mut listing = Self::default();
        let mut best_cover = None;
        for entry in entries.into_iter().filter(|entry| !hidden(&entry.name)) {
            match entry.kind {
                Kind::Dir => listing.dirs.push(entry),
                Kind::File if mime::audio_type(&entry.name).is_some() => listing.tracks.push(entry),
                Kind::File => {
                    if let Some(rank) = cover_rank(&entry.name)
                        && best_cover.as_ref().is_none_or(|(best, _)| rank < *best)
                    {
                        best_cover = Some((rank, entry));
                    }
                }
            }
        }
        listing.dirs.sort_by(|a, b| natural::compare(&a.name, &b.name));
        listing.tracks.sort_by(|a, b| natural::compare(&a.name, &b.name));
        listing.cover = best_cover.map(|(_, entry)| entry);
        listing
    }
}

/// `name` inside the directory `dir` ("" for the music dir itself).
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { [dir, "/", name].concat() }
}

/// The directory a relative path is in ("" for the music dir).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

#[cfg(test)]
mod tests {
    use super::{Entry, Kind, Listing, join, parent};

    fn entry(name: &str, kind: Kind) -> Entry {
        Entry { name: name.into(), kind, size: 1, modified: (0, 0) }
    }

    fn names(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|entry| entry.name.as_str()).collect()
    }

    #[test]
    fn listings_sort_filter_and_find_the_cover() {
        use Kind::{Dir, File};
        #[rustfmt::skip]
        let entries = [
            ("10 - ten.mp3", File), ("2 - two.MP3", File), ("notes.txt", File), (".dot.flac", File), ("Sub 10", Dir),
            ("sub 2", Dir), (".hidden", Dir), ("front.png", File), ("Folder.JPG", File), ("cover.gif", File),
            ("1 - One.flac", File), ("a.M4B", File), ("x.wv", File), ("y.Opus", File), ("cover.mp3", File),
        ];
        let listing = Listing::new(entries.iter().map(|&(name, kind)| entry(name, kind)).collect());
        assert_eq!(names(&listing.dirs), ["sub 2", "Sub 10"]);
        assert_eq!(
            names(&listing.tracks),
            ["1 - One.flac", "2 - two.MP3", "10 - ten.mp3", "a.M4B", "cover.mp3", "x.wv", "y.Opus"]
        );
        assert_eq!(listing.cover.map(|entry| entry.name), Some("Folder.JPG".into()));
    }

    #[test]
    fn cover_files_rank_by_stem_then_extension() {
        #[rustfmt::skip]
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["front.jpg", "folder.png", "cover.webp"], Some("cover.webp")),
            (&["cover.png", "COVER.JPEG", "cover.jpg"], Some("cover.jpg")),
            (&["Front.WEBP"], Some("Front.WEBP")),
            (&["covers.jpg", "cover.bmp", "cover", ".cover.jpg", "album.jpg"], None),
        ];
        for &(files, want) in cases {
            let listing = Listing::new(files.iter().map(|&name| entry(name, Kind::File)).collect());
            assert_eq!(listing.cover.as_ref().map(|entry| entry.name.as_str()), want, "{files:?}");
        }
    }

    #[test]
    fn only_audio_and_cover_files_are_wanted() {
        #[rustfmt::skip]
        let cases = [("a.mp3", true), ("A.FLAC", true), ("cover.jpg", true), ("Folder.PNG", true), ("notes.txt", false),
            (".a.mp3", false), ("cover.gif", false), ("", false), (".", false)];
        for (name, want) in cases {
            assert_eq!(super::wanted_file(name), want, "{name:?}");
        }
    }

    #[test]
    fn paths_join_and_split() {
        assert_eq!(join("", "a.mp3"), "a.mp3");
        assert_eq!(join("A/B", "c.mp3"), "A/B/c.mp3");
        assert_eq!(parent("a.mp3"), "");
        assert_eq!(parent("A/B/c.mp3"), "A/B");
    }
}
