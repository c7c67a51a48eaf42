//! The tags the API returns, normalised: text trimmed, `3/12` split into number and
//! total, a year out of a full date, ID3's numeric genres named. lofty reads the tags of
//! MPEG, FLAC, MP4, WAVE and WavPack files; [`super::ogg`] and [`super::asf`] read their own.

use std::io::{Seek, SeekFrom};

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, TaggedFile, TaggedFileExt};
use lofty::flac::FlacFile;
use lofty::iff::wav::WavFile;
use lofty::mp4::Mp4File;
use lofty::mpeg::MpegFile;
use lofty::tag::{Accessor, ItemKey, Tag};
use lofty::wavpack::WavPackFile;

use super::Container;
use super::source::{ReadAt, Source};

/// A file's tags as the API gives them; `None` where absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    /// Title.
    pub title: Option<String>,
    /// Track artist.
    pub artist: Option<String>,
    /// Album.
    pub album: Option<String>,
    /// Album artist.
    pub album_artist: Option<String>,
    /// Track number.
    pub track: Option<u32>,
    /// Tracks on the disc.
    pub track_total: Option<u32>,
    /// Disc number.
    pub disc: Option<u32>,
    /// Discs in the set.
    pub disc_total: Option<u32>,
    /// Year of the recording or release.
    pub year: Option<u32>,
    /// Genre, by name.
    pub genre: Option<String>,
}

/// A tag field that formats write as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Title.
    Title,
    /// Track artist.
    Artist,
    /// Album.
    Album,
    /// Album artist.
    AlbumArtist,
    /// Track number, possibly `n/total`.
    Track,
    /// Total tracks.
    TrackTotal,
    /// Disc number, possibly `n/total`.
    Disc,
    /// Total discs.
    DiscTotal,
    /// A date or a year.
    Year,
    /// A genre, possibly ID3's `(17)`.
    Genre,
}

impl Tags {
    /// Sets `field` from `value` unless it is set already (the first tag read wins) or
    /// `value` says nothing.
    pub fn fill(&mut self, field: Field, value: &str) {
        let value = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if value.is_empty() {
            return;
        }
        let text = || Some(value.to_owned());
        match field {
            Field::Title => self.title = self.title.take().or_else(text),
            Field::Artist => self.artist = self.artist.take().or_else(text),
            Field::Album => self.album = self.album.take().or_else(text),
            Field::AlbumArtist => self.album_artist = self.album_artist.take().or_else(text),
            Field::Track => {
                let (number, total) = number_pair(value);
                self.track = self.track.or(number);
                self.track_total = self.track_total.or(total);
            }
            Field::TrackTotal => self.track_total = self.track_total.or(number_pair(value).0),
            Field::Disc => {
                let (number, total) = number_pair(value);
                self.disc = self.disc.or(number);
                self.disc_total = self.disc_total.or(total);
            }
            Field::DiscTotal => self.disc_total = self.disc_total.or(number_pair(value).0),
            Field::Year => self.year = self.year.or(year(value)),
            Field::Genre => self.genre = self.genre.take().or_else(|| genre(value)),
        }
    }
}

/// `3`, `3/12` or ` 03 / 12 ` as a number and a total; 0 and junk are absent.
pub fn number_pair(value: &str) -> (Option<u32>, Option<u32>) {
    let number = |part: &str| part.trim().parse::<u32>().ok().filter(|&n| n > 0);
    match value.split_once('/') {
        Some((n, total)) => (number(n), number(total)),
        None => (number(value), None),
    }
}

/// The year a date starts with: `2019`, `2019-05-03`, `2004-07-01T12:00`, `2019/05/03`.
pub fn year(value: &str) -> Option<u32> {
    let digits = value.trim().as_bytes();
    let year = digits.get(..4)?;
    if !year.iter().all(u8::is_ascii_digit) || digits.get(4).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(year).ok()?.parse().ok().filter(|&year| year > 0)
}

/// A genre's name: ID3v1 numbers, bare or in parentheses (`17`, `(17)`), name their
/// genre; text after the parentheses (`(17)Rock`) refines it and wins; `(RX)` and `(CR)`
/// are remix and cover; `((` escapes a literal parenthesis.
pub fn genre(value: &str) -> Option<String> {
    let value = value.trim();
    let named = |id: &str| match id {
        "RX" => Some("Remix".to_owned()),
        "CR" => Some("Cover".to_owned()),
        id => id
            .parse::<usize>()
            .ok()
            .and_then(|n| lofty::id3::v1::GENRES.get(n))
            .map(|&g| g.to_owned()),
    };
    if let Some(escaped) = value.strip_prefix("((") {
        return Some(format!("({escaped}"));
    }
    if let Some(rest) = value.strip_prefix('(')
        && let Some((id, refinement)) = rest.split_once(')')
    {
        let refinement = refinement.trim();
        return if refinement.is_empty() {
            named(id).or_else(|| Some(value.to_owned()))
        } else {
            genre(refinement)
        };
    }
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return named(value).or_else(|| Some(value.to_owned()));
    }
    Some(value.to_owned())
}

/// Reads the tags of a file lofty understands; all absent if it cannot.
pub fn read<R: ReadAt>(source: &mut Source<R>, kind: Container) -> Tags {
    if source.seek(SeekFrom::Start(0)).is_err() {
        return Tags::default();
    }
    // Each format's reader is called by name, not through lofty's probe, so that the readers
    // of formats tapedeck does not serve stay out of the wasm.
    let file = match kind {
        Container::Mpeg => tagged::<MpegFile, _>(source),
        Container::Flac => tagged::<FlacFile, _>(source),
        Container::Mp4 => tagged::<Mp4File, _>(source),
        Container::Riff => tagged::<WavFile, _>(source),
        Container::WavPack => tagged::<WavPackFile, _>(source),
        Container::Ogg | Container::Asf => None,
    };
    let Some(file) = file else { return Tags::default() };
    let mut tags = Tags::default();
    // The primary tag first (ID3v2 over ID3v1 and APE), the others fill what it lacks.
    let primary = file.primary_tag_type();
    let mut all: Vec<&Tag> = file.tags().iter().collect();
    all.sort_by_key(|tag| tag.tag_type() != primary);
    for tag in all {
        fill_from(&mut tags, tag);
    }
    tags
}

/// The file read by lofty's reader `F`, without properties or pictures: the properties are
/// this crate's, and pictures are located separately.
fn tagged<F: AudioFile + Into<TaggedFile>, R: ReadAt>(
    source: &mut Source<R>,
) -> Option<TaggedFile> {
    let options = ParseOptions::new()
        .read_properties(false)
        .read_cover_art(false)
        .parsing_mode(ParsingMode::BestAttempt);
    F::read_from(source, options).ok().map(Into::into)
}

fn fill_from(tags: &mut Tags, tag: &Tag) {
    let text = |key| tag.get_string(key);
    for (field, value) in [
        (Field::Title, tag.title().as_deref().map(str::to_owned)),
        (Field::Artist, tag.artist().as_deref().map(str::to_owned)),
        (Field::Album, tag.album().as_deref().map(str::to_owned)),
        (Field::Genre, tag.genre().as_deref().map(str::to_owned)),
    ] {
        if let Some(value) = value {
            tags.fill(field, &value);
        }
    }
    #[rustfmt::skip]
    let keyed = [
        (Field::AlbumArtist, ItemKey::AlbumArtist),
        (Field::Track, ItemKey::TrackNumber), (Field::TrackTotal, ItemKey::TrackTotal),
        (Field::Disc, ItemKey::DiscNumber), (Field::DiscTotal, ItemKey::DiscTotal),
        (Field::Year, ItemKey::RecordingDate), (Field::Year, ItemKey::Year),
        (Field::Year, ItemKey::ReleaseDate), (Field::Year, ItemKey::OriginalReleaseDate),
    ];
    for (field, key) in keyed {
        if let Some(value) = text(key) {
            tags.fill(field, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Field, Tags, genre, number_pair, year};

    #[test]
    fn number_pairs() {
        #[rustfmt::skip]
        let cases = [
            ("3", (Some(3), None)), ("3/12", (Some(3), Some(12))), (" 03 / 12 ", (Some(3), Some(12))),
            ("/12", (None, Some(12))), ("0", (None, None)), ("x", (None, None)), ("3/x", (Some(3), None)),
            ("99999999999", (None, None)), ("-1", (None, None)),
        ];
        for (value, want) in cases {
            assert_eq!(number_pair(value), want, "{value:?}");
        }
    }

    #[test]
    fn years() {
        #[rustfmt::skip]
        let cases = [
            ("2019", Some(2019)), ("2019-05-03", Some(2019)), ("2004-07-01T12:00", Some(2004)),
            ("2019/05/03", Some(2019)), (" 1999 ", Some(1999)), ("19999", None), ("99", None),
            ("May 2019", None), ("0000", None), ("", None), ("201é", None),
        ];
        for (value, want) in cases {
            assert_eq!(year(value), want, "{value:?}");
        }
    }

    #[test]
    fn genres() {
        #[rustfmt::skip]
        let cases = [
            ("Rock", Some("Rock")), ("(17)", Some("Rock")), ("17", Some("Rock")), ("(17)Rock & Roll", Some("Rock & Roll")),
            ("(0)", Some("Blues")), ("(RX)", Some("Remix")), ("(CR)", Some("Cover")), ("((Not a number)", Some("(Not a number)")),
            ("(999)", Some("(999)")), ("999", Some("999")), ("(17", Some("(17")), ("  Jazz ", Some("Jazz")), ("", None),
            ("(17)(18)", Some("Techno")),
        ];
        for (value, want) in cases {
            assert_eq!(genre(value).as_deref(), want, "{value:?}");
        }
    }

    #[test]
    fn the_first_value_of_a_field_wins_and_blanks_say_nothing() {
        let mut tags = Tags::default();
        tags.fill(Field::Title, " \0");
        tags.fill(Field::Title, " First\0");
        tags.fill(Field::Title, "Second");
        tags.fill(Field::Track, "3/12");
        tags.fill(Field::TrackTotal, "10");
        tags.fill(Field::Disc, "2");
        tags.fill(Field::DiscTotal, "3");
        tags.fill(Field::Year, "2019-05-03");
        tags.fill(Field::Year, "1990");
        let want = Tags {
            title: Some("First".into()),
            track: Some(3),
            track_total: Some(12),
            disc: Some(2),
            disc_total: Some(3),
            year: Some(2019),
            ..Tags::default()
        };
        assert_eq!(tags, want);
    }
}
