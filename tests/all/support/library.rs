//! Music libraries for the tests: a temporary MUSIC_DIR with real audio files (from `media`
//! and `wav`), awkward names, files that must not be served, and secrets next to and outside
//! the music dir that must never leak.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::bytes::pattern;
use super::media::{Format, encoded};
use super::wav::{Layout, synth, wav_file};

/// Every file of a library is given this mtime, so `Last-Modified` is known exactly and is
/// old enough to be a strong validator (RFC 9110 §8.8.2.2).
pub const MTIME_SECS: u64 = 1_749_988_800;
/// `MTIME_SECS` as an HTTP-date.
pub const MTIME_HTTP: &str = "Sun, 15 Jun 2025 12:00:00 GMT";

/// A WAV made here: 3 s of 16-bit mono at 22050 Hz, 132,344 bytes, large enough for several
/// 32 KiB-aligned Chromium-style ranges.
pub const WAV: &str = "tone.wav";
/// A small text-less binary file, for range cases that need a known short length.
pub const SMALL: &str = "small.mp3";
/// The length of `SMALL`.
pub const SMALL_LEN: usize = 2000;
/// A nested path whose name has UTF-8, spaces, double quotes and an apostrophe.
pub const NESTED_UTF8: &str = "Artist/Album Ü/01 - \"Quoted\" café's song.flac";
/// A symlink inside the music dir to `outside/secret.mp3`, outside it.
pub const OUTSIDE_LINK: &str = "outside-link.mp3";
/// Every file outside the music dir contains this: no response may.
pub const SECRET_MARKER: &str = "TOP-SECRET-OUTSIDE-MUSIC-DIR";
/// The music dir's name: its sibling is `music-sibling`.
pub const MUSIC_DIR_NAME: &str = "music";
/// The secret in the sibling directory, relative to the music dir.
pub const SIBLING_SECRET: &str = "../music-sibling/secret.mp3";

/// A temporary directory holding `music/` (the MUSIC_DIR), `music-sibling/` and `outside/`;
/// removed when dropped.
pub struct Library {
    root: tempfile::TempDir,
    music: PathBuf,
}

impl Library {
    /// A music dir with no audio in it yet, plus the secrets outside it and the symlink to one.
    pub fn empty() -> Library {
        let root = tempfile::Builder::new().prefix("tapedeck-test-").tempdir().expect("temp dir");
        let music = root.path().join(MUSIC_DIR_NAME);
        fs::create_dir(&music).expect("music dir");
        let library = Library { root, music };
        let secret = format!("ID3{SECRET_MARKER} the bytes of a file outside MUSIC_DIR");
        library.write_outside("outside/secret.mp3", secret.as_bytes());
        library.write_outside("music-sibling/secret.mp3", secret.as_bytes());
        library.add_symlink(OUTSIDE_LINK, &library.root.path().join("outside/secret.mp3"));
        library
    }

    /// The library most tests use: one real file per format, the code-made WAV, an
    /// uppercase extension, the UTF-8 name, and files that are not to be served.
    pub fn standard() -> Library {
        let library = Library::empty();
        for format in Format::ALL {
            if format != Format::Wav {
                library.add(&format.file(), &encoded(format));
            }
        }
        let mono = Layout { rate: 22050, channels: 1, bits: 16 };
        library.add(WAV, &wav_file(mono, &synth(mono, 3.0, false)));
        library.add(SMALL, &pattern(SMALL_LEN));
        library.add("LOUD.MP3", &encoded(Format::Mp3));
        library.add("Mixed.Flac", &encoded(Format::Flac));
        library.add(NESTED_UTF8, &encoded(Format::Flac));
        library.add("notes.txt", b"not audio\n");
        library.add("cover.jpg", b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 not audio");
        library.add(".hidden.mp3", &encoded(Format::Mp3));
        library.add("README", b"no extension\n");
        library.add("Album/inside.mp3", &encoded(Format::Mp3));
        library.add("folder.mp3/inside.mp3", &encoded(Format::Mp3));
        library
    }

    /// The MUSIC_DIR the server is started with.
    pub fn music_dir(&self) -> &Path {
        &self.music
    }

    /// The temporary directory holding the music dir and the secrets.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The host path of `rel` inside the music dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.music.join(rel)
    }

    /// Writes `bytes` to `rel` inside the music dir (creating folders) with the fixed mtime.
    pub fn add(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(rel);
        write_with_mtime(&path, bytes);
        path
    }

    /// The bytes of `rel` inside the music dir.
    #[track_caller]
    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading fixture `{rel}`: {e}"))
    }

    /// `len` bytes of `rel` from `offset` (for files too big to read whole).
    pub fn read_at(&self, rel: &str, offset: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        File::open(self.path(rel))
            .expect("open fixture")
            .read_exact_at(&mut buf, offset)
            .expect("read fixture");
        buf
    }

    /// Makes `rel` inside the music dir a symlink to `target` (relative to `rel`'s folder,
    /// or absolute).
    pub fn add_symlink(&self, rel: &str, target: &Path) {
        std::os::unix::fs::symlink(target, self.path(rel))
            .unwrap_or_else(|e| panic!("symlink `{rel}`: {e}"));
    }

    /// Sets the mtime of `rel` to `MTIME_SECS + offset`.
    pub fn set_mtime(&self, rel: &str, offset: Duration) {
        let file = File::options().write(true).open(self.path(rel)).expect("open fixture");
        file.set_modified(fixed_mtime() + offset).expect("set mtime");
    }

    /// Creates a sparse file of `len` bytes (no disk blocks but a few) with markers at its
    /// start, at 4 GiB (past 32-bit offsets) and at its end. Returns the markers.
    pub fn add_big_file(&self, rel: &str, len: u64) -> [(u64, &'static [u8]); 3] {
        assert!(len > (1 << 32) + 32, "a big file must reach past its 4 GiB marker");
        let markers: [(u64, &'static [u8]); 3] = [
            (0, b"ID3-BIG-FILE-START"),
            (1 << 32, b"MARK-AT-4-GiB---"),
            (len - 16, b"BIG-FILE-END----"),
        ];
        self.add_sparse_file(rel, len, &markers);
        markers
    }

    /// Creates a sparse file of `len` zero bytes with each `(offset, bytes)` marker written in.
    pub fn add_sparse_file(&self, rel: &str, len: u64, markers: &[(u64, &[u8])]) {
        let file = File::create(self.path(rel)).expect("create sparse file");
        file.set_len(len).expect("size sparse file");
        for (offset, bytes) in markers {
            file.write_all_at(bytes, *offset).expect("write marker");
        }
        file.set_modified(fixed_mtime()).expect("set mtime");
    }

    fn write_outside(&self, rel: &str, bytes: &[u8]) {
        write_with_mtime(&self.root.path().join(rel), bytes);
    }
}

fn write_with_mtime(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("fixture folder");
    }
    fs::write(path, bytes).unwrap_or_else(|e| panic!("writing fixture `{}`: {e}", path.display()));
    let file = File::options().write(true).open(path).expect("open fixture");
    file.set_modified(fixed_mtime()).expect("set mtime");
}

fn fixed_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS)
}
