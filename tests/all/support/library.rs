//! Music libraries for the tests: a temporary MUSIC_DIR with real audio files (WAV written
//! here, the rest encoded by the `ffmpeg` CLI), awkward names, files that must not be served,
//! and secrets next to and outside the music dir that must never leak.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Every file of a library is given this mtime, so `Last-Modified` is known exactly and is
/// old enough to be a strong validator (RFC 9110 §8.8.2.2).
pub const MTIME_SECS: u64 = 1_749_988_800;
/// `MTIME_SECS` as an HTTP-date.
pub const MTIME_HTTP: &str = "Sun, 15 Jun 2025 12:00:00 GMT";

/// A WAV written by `wav_tone`: 3 s of 16-bit mono at 22050 Hz, 132,344 bytes, large enough
/// for several 32 KiB-aligned Chromium-style ranges.
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

/// The audio formats the server streams: extension, expected MIME type, and the ffmpeg
/// encoder arguments that make a real file of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Mp3,
    Flac,
    Wav,
    M4a,
    M4b,
    Ogg,
    Opus,
    Wma,
    Wv,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Mp3,
        Format::Flac,
        Format::Wav,
        Format::M4a,
        Format::M4b,
        Format::Ogg,
        Format::Opus,
        Format::Wma,
        Format::Wv,
    ];

    pub fn ext(self) -> &'static str {
        match self {
            Format::Mp3 => "mp3",
            Format::Flac => "flac",
            Format::Wav => "wav",
            Format::M4a => "m4a",
            Format::M4b => "m4b",
            Format::Ogg => "ogg",
            Format::Opus => "opus",
            Format::Wma => "wma",
            Format::Wv => "wv",
        }
    }

    /// The MIME type the issue specifies for the extension.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Mp3 => "audio/mpeg",
            Format::Flac => "audio/flac",
            Format::Wav => "audio/wav",
            Format::M4a | Format::M4b => "audio/mp4",
            Format::Ogg => "audio/ogg",
            Format::Opus => "audio/opus",
            Format::Wma => "audio/x-ms-wma",
            Format::Wv => "audio/x-wavpack",
        }
    }

    /// The name of the file of this format in `Library::standard`.
    pub fn file(self) -> String {
        format!("tone.{}", self.ext())
    }

    fn ffmpeg_args(self) -> &'static [&'static str] {
        match self {
            Format::Mp3 => &["-c:a", "libmp3lame", "-b:a", "32k"],
            Format::Flac => &["-c:a", "flac"],
            Format::Wav => &["-c:a", "pcm_s16le"],
            Format::M4a | Format::M4b => &["-c:a", "aac", "-b:a", "32k", "-f", "mp4"],
            Format::Ogg => &["-c:a", "libvorbis", "-q:a", "0"],
            Format::Opus => &["-c:a", "libopus", "-b:a", "24k"],
            Format::Wma => &["-c:a", "wmav2", "-b:a", "32k"],
            Format::Wv => &["-c:a", "wavpack"],
        }
    }
}

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
        std::os::unix::fs::symlink(
            library.root.path().join("outside/secret.mp3"),
            library.path(OUTSIDE_LINK),
        )
        .expect("symlink");
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
        library.add(WAV, &wav_tone(440.0, 22050, 3.0));
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

    /// Sets the mtime of `rel` to `MTIME_SECS + offset_secs`.
    pub fn set_mtime(&self, rel: &str, offset_secs: u64) {
        let file = File::options().write(true).open(self.path(rel)).expect("open fixture");
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS + offset_secs))
            .expect("set mtime");
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
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS))
            .expect("set mtime");
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
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECS)).expect("set mtime");
}

/// A canonical 44-byte-header PCM WAV of a sine tone, 16-bit mono.
pub fn wav_tone(freq: f64, rate: u32, seconds: f64) -> Vec<u8> {
    let samples = (f64::from(rate) * seconds) as u32;
    let data_len = samples * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..samples {
        let t = f64::from(n) / f64::from(rate);
        let sample =
            (0.3 * (2.0 * std::f64::consts::PI * freq * t).sin() * f64::from(i16::MAX)) as i16;
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

/// `len` bytes where every position differs from its neighbours, so a slice taken from the
/// wrong offset cannot pass for the right one.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

/// The bytes of a one-second tone in `format`, encoded once per test run by ffmpeg and kept
/// under the test's target tmp dir.
pub fn encoded(format: Format) -> Vec<u8> {
    let dir = media_dir();
    let path = dir.join(format.file());
    fs::read(&path).unwrap_or_else(|e| panic!("reading encoded media `{}`: {e}", path.display()))
}

fn media_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join("media-v1");
        if dir.join("done").exists() {
            return dir;
        }
        // Encode into a private folder, then rename it into place: another test run
        // racing this one sees either nothing or a complete set.
        let staging = base.join(format!("media-staging-{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).expect("media staging dir");
        let mut ffmpeg = Command::new("ffmpeg");
        ffmpeg.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
        ffmpeg.args(["-f", "lavfi", "-i", "sine=frequency=523:sample_rate=22050:duration=1"]);
        for format in Format::ALL {
            ffmpeg.args(format.ffmpeg_args()).arg(staging.join(format.file()));
        }
        let output = ffmpeg.output().unwrap_or_else(|e| {
            panic!("the tests need the `ffmpeg` CLI to make audio fixtures: {e}")
        });
        assert!(
            output.status.success(),
            "ffmpeg failed to make the audio fixtures: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        fs::write(staging.join("done"), b"").expect("media done marker");
        if fs::rename(&staging, &dir).is_err() {
            // Another run won the race; its set is as good as ours.
            let _ = fs::remove_dir_all(&staging);
        }
        dir
    })
}
