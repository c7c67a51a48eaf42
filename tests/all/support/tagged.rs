//! Tagged audio files made by the real tools: a tone encoded by `ffmpeg`, then tags and
//! pictures written the way taggers write them (python3's mutagen through `tag.py`,
//! WavPack's `wvtag`, ffmpeg's RIFF INFO), and small pictures to embed or put beside music.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::media::ffmpeg;
use super::run;

/// The tagging script; it needs python3 with mutagen (`pip install mutagen`).
const TAG_SCRIPT: &str = include_str!("tag.py");

/// A picture type of ID3 APIC, FLAC PICTURE and ASF WM/Picture: the front cover.
pub const FRONT: u8 = 3;
/// The back cover.
pub const BACK: u8 = 4;

/// How a tone is encoded: the extension, ffmpeg's codec arguments, and the PCM encoded.
#[derive(Debug, Clone, Copy)]
pub struct Encoding {
    pub ext: &'static str,
    pub args: &'static [&'static str],
    pub rate: u32,
    pub channels: u16,
    pub seconds: f64,
}

impl Encoding {
    /// One second of 22.05 kHz mono: a whole header, and quick to make.
    pub const fn short(ext: &'static str, args: &'static [&'static str]) -> Encoding {
        Encoding { ext, args, rate: 22_050, channels: 1, seconds: 1.0 }
    }
}

/// How tags get into a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Id3v24,
    Id3v23,
    Id3v22,
    /// FLAC's VORBIS_COMMENT and PICTURE blocks; Ogg comments with METADATA_BLOCK_PICTURE.
    Vorbis,
    Mp4,
    Asf,
    /// APEv2, by `wvtag`.
    Ape,
    /// RIFF INFO, by ffmpeg's `-metadata` (no pictures).
    RiffInfo,
}

/// A picture to embed: its type (`FRONT`, `BACK`), MIME type and bytes.
#[derive(Debug, Clone)]
pub struct Picture {
    pub kind: u8,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// The tags written into a file.
#[derive(Debug, Clone, Copy)]
pub struct Song {
    pub title: &'static str,
    pub artist: &'static str,
    pub album: &'static str,
    pub album_artist: &'static str,
    pub track: u32,
    pub track_total: u32,
    pub disc: u32,
    pub disc_total: u32,
    /// A full date: the API gives its year.
    pub date: &'static str,
    /// As written: `Rock`, or ID3's `(17)` or `17`, which the API names `Rock`.
    pub genre: &'static str,
}

/// Text outside Latin-1 (so ID3 writes it as UTF-16), quotes, and a character outside the BMP.
pub const SONG: Song = Song {
    title: "Tïtle “quoted” 日本 🎵",
    artist: "Ärtist",
    album: "Albüm",
    album_artist: "Various Ärtists",
    track: 3,
    track_total: 12,
    disc: 1,
    disc_total: 2,
    date: "2019-05-17",
    genre: "Rock",
};

impl Song {
    /// `SONG` with another title.
    pub fn titled(title: &'static str) -> Song {
        Song { title, ..SONG }
    }

    /// The `tags` object `/api/track` gives for it: the year of the date, numbers as
    /// numbers, the genre `Rock` (each test writes it as some form of Rock).
    pub fn api_tags(&self) -> Value {
        let year: u64 = self.date[..4].parse().expect("a date starts with its year");
        json!({
            "title": self.title, "artist": self.artist, "album": self.album,
            "album_artist": self.album_artist, "track": self.track,
            "track_total": self.track_total, "disc": self.disc, "disc_total": self.disc_total,
            "year": year, "genre": "Rock",
        })
    }

    fn spec(&self, kind: &str, pictures: &[(u8, &'static str, String)]) -> String {
        let pictures: Vec<Value> = pictures
            .iter()
            .map(|(kind, mime, path)| json!({"type": kind, "mime": mime, "path": path}))
            .collect();
        json!({
            "kind": kind,
            "tags": {
                "title": self.title, "artist": self.artist, "album": self.album,
                "album_artist": self.album_artist, "track": self.track,
                "track_total": self.track_total, "disc": self.disc,
                "disc_total": self.disc_total, "date": self.date, "genre": self.genre,
            },
            "pictures": pictures,
        })
        .to_string()
    }
}

/// A tone encoded as `encoding`, untagged (but for what the encoder writes itself).
pub fn untagged(encoding: &Encoding) -> Vec<u8> {
    make(encoding, TagKind::Vorbis, None, &[])
}

/// A tone encoded as `encoding` with `song` (if any) and `pictures` written as `kind`.
pub fn make(
    encoding: &Encoding,
    kind: TagKind,
    song: Option<&Song>,
    pictures: &[Picture],
) -> Vec<u8> {
    let dir = tempfile::Builder::new().prefix("tapedeck-tagged-").tempdir().expect("temp dir");
    let file = dir.path().join(format!("tone.{}", encoding.ext));
    let source =
        format!("sine=frequency=440:sample_rate={}:duration={}", encoding.rate, encoding.seconds);
    let mut encode = ffmpeg();
    encode.args(["-f", "lavfi", "-i", &source, "-ac", &encoding.channels.to_string()]);
    encode.args(encoding.args);
    if let (TagKind::RiffInfo, Some(song)) = (kind, song) {
        assert!(pictures.is_empty(), "RIFF INFO holds no pictures");
        let track = format!("{}/{}", song.track, song.track_total);
        for (key, value) in [
            ("title", song.title),
            ("artist", song.artist),
            ("album", song.album),
            ("date", song.date),
            ("genre", song.genre),
            ("track", &track),
        ] {
            encode.arg("-metadata").arg(format!("{key}={value}"));
        }
    }
    run(encode.arg(&file));
    if song.is_some() || !pictures.is_empty() {
        let song = song.unwrap_or(&SONG);
        let saved: Vec<(u8, &'static str, String)> = pictures
            .iter()
            .enumerate()
            .map(|(i, picture)| (picture.kind, picture.mime, save(dir.path(), i, picture)))
            .collect();
        match kind {
            TagKind::RiffInfo => {}
            TagKind::Ape => wvtag(&file, song, &saved),
            _ => {
                let kind = match kind {
                    TagKind::Id3v24 => "id3v24",
                    TagKind::Id3v23 => "id3v23",
                    TagKind::Id3v22 => "id3v22",
                    TagKind::Vorbis => "vorbis",
                    TagKind::Mp4 => "mp4",
                    _ => "asf",
                };
                run(Command::new("python3")
                    .arg("-c")
                    .arg(TAG_SCRIPT)
                    .arg(&file)
                    .arg(song.spec(kind, &saved)));
            }
        }
    }
    fs::read(&file).expect("read the tagged file")
}

/// Writes `picture` beside the file being tagged; returns its path.
fn save(dir: &Path, index: usize, picture: &Picture) -> String {
    let ext = picture.mime.trim_start_matches("image/");
    let path = dir.join(format!("picture-{index}.{ext}"));
    fs::write(&path, &picture.bytes).expect("write a picture to embed");
    path.to_string_lossy().into_owned()
}

/// APEv2 tags the way WavPack's own tool writes them: `Track` as `3/12`, the cover art as a
/// binary item whose value is a file name, a NUL and the image.
fn wvtag(file: &Path, song: &Song, pictures: &[(u8, &'static str, String)]) {
    let mut wvtag = Command::new("wvtag");
    wvtag.args(["-q", "-y", "--no-utf8-convert"]);
    let track = format!("{}/{}", song.track, song.track_total);
    let disc = format!("{}/{}", song.disc, song.disc_total);
    for (key, value) in [
        ("Title", song.title),
        ("Artist", song.artist),
        ("Album", song.album),
        ("Album Artist", song.album_artist),
        ("Track", &track),
        ("Disc", &disc),
        ("Year", song.date),
        ("Genre", song.genre),
    ] {
        wvtag.arg("-w").arg(format!("{key}={value}"));
    }
    for (kind, _, path) in pictures {
        let item = if *kind == FRONT { "Cover Art (Front)" } else { "Cover Art (Back)" };
        wvtag.arg("--write-binary-tag").arg(format!("{item}=@{path}"));
    }
    run(wvtag.arg(file));
}

/// A small solid-colour picture made by ffmpeg (`mime` image/jpeg or image/png); each
/// colour gives other bytes.
pub fn image(color: &str, mime: &'static str) -> Vec<u8> {
    let dir = tempfile::Builder::new().prefix("tapedeck-image-").tempdir().expect("temp dir");
    let path = dir.path().join(format!("image.{}", mime.trim_start_matches("image/")));
    let source = format!("color=c={color}:s=24x16");
    run(ffmpeg().args(["-f", "lavfi", "-i", &source, "-frames:v", "1"]).arg(&path));
    fs::read(&path).expect("read the picture")
}

/// A picture of type `kind` made by `image`.
pub fn picture(kind: u8, color: &str, mime: &'static str) -> Picture {
    Picture { kind, mime, bytes: image(color, mime) }
}
