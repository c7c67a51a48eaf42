//! Real audio files for the libraries: a one-second tone in every format the server knows
//! (encoded by the `ffmpeg` CLI), and the WavPack and WMA files of the transcoding tests
//! (encoded by `wavpack` and `ffmpeg` from PCM made in `wav`). Each set is encoded once and
//! kept in the target's tmp dir between runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::library::Library;
use super::run;
use super::wav::{Layout, synth, wav_file};

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

    /// The MIME type the README lists for the extension.
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

/// The bytes of a one-second tone in `format`.
pub fn encoded(format: Format) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        cached_dir("media-v1", |staging| {
            let mut ffmpeg = ffmpeg();
            ffmpeg.args(["-f", "lavfi", "-i", "sine=frequency=523:sample_rate=22050:duration=1"]);
            for format in Format::ALL {
                ffmpeg.args(format.ffmpeg_args()).arg(staging.join(format.file()));
            }
            run(&mut ffmpeg);
        })
    });
    read(&dir.join(format.file()))
}

/// One row of the transcoding table: a PCM layout, encoded as `.wv` and, where WMA can hold
/// it, as `.wma` (`wmav2` encodes at most 48 kHz).
pub struct FormatCase {
    pub name: &'static str,
    pub layout: Layout,
    pub wma: bool,
}

const fn row(name: &'static str, rate: u32, channels: u16, bits: u16, wma: bool) -> FormatCase {
    FormatCase { name, layout: Layout { rate, channels, bits }, wma }
}

/// 16- and 24-bit, mono and stereo, 44.1/48/96 kHz.
pub const TRANSCODE_FORMATS: &[FormatCase] = &[
    row("16-bit mono 44.1 kHz", 44_100, 1, 16, true),
    row("16-bit stereo 44.1 kHz", 44_100, 2, 16, true),
    row("16-bit stereo 48 kHz", 48_000, 2, 16, true),
    row("24-bit stereo 48 kHz", 48_000, 2, 24, true),
    row("24-bit mono 96 kHz", 96_000, 1, 24, false),
    row("24-bit stereo 96 kHz", 96_000, 2, 24, false),
];

/// Length of every table file.
pub const TABLE_SECONDS: f64 = 3.0;
/// The 10-minute files a browser seeks in (`long.wv`, `long.wma`): mono 22.05 kHz keeps
/// them quick to make.
pub const LONG: Layout = Layout { rate: 22_050, channels: 1, bits: 16 };
pub const LONG_SECONDS: f64 = 600.0;
/// Bump when `synth` changes: encoded files are cached under this name between runs.
const TRANSCODE_MEDIA_VERSION: &str = "transcode-media-v1";

impl FormatCase {
    /// The library path of its file with extension `ext`, in a folder whose name needs
    /// percent-encoding.
    pub fn file(&self, ext: &str) -> String {
        format!("Table Ü/{}.{ext}", self.stem())
    }

    /// The PCM its files were encoded from.
    pub fn pcm(&self) -> Vec<u8> {
        synth(self.layout, TABLE_SECONDS, true)
    }

    /// The bytes of its encoded file with extension `ext`.
    pub fn media(&self, ext: &str) -> Vec<u8> {
        transcode_media(&format!("{}.{ext}", self.stem()))
    }

    /// Adds its file with extension `ext` to `library` at `file(ext)`; returns that path.
    pub fn add_to(&self, library: &Library, ext: &str) -> String {
        let rel = self.file(ext);
        library.add(&rel, &self.media(ext));
        rel
    }

    fn stem(&self) -> String {
        let Layout { rate, channels, bits } = self.layout;
        format!("{rate}Hz-{channels}ch-{bits}bit-{TABLE_SECONDS}s")
    }
}

/// The bytes of the encoded file `name`: a table file (`FormatCase::media`), or `long.wv`
/// or `long.wma`, ten minutes each.
pub fn transcode_media(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        cached_dir(TRANSCODE_MEDIA_VERSION, |staging| {
            let mut sources: Vec<(String, Layout, Vec<u8>, bool)> = TRANSCODE_FORMATS
                .iter()
                .map(|case| (case.stem(), case.layout, case.pcm(), case.wma))
                .collect();
            sources.push(("long".into(), LONG, synth(LONG, LONG_SECONDS, false), true));
            for (stem, layout, pcm, wma) in sources {
                let wav = staging.join(format!("{stem}.wav"));
                fs::write(&wav, wav_file(layout, &pcm)).expect("write source WAV");
                let wv = staging.join(format!("{stem}.wv"));
                run(Command::new("wavpack").args(["-q", "-y"]).arg(&wav).arg("-o").arg(wv));
                if wma {
                    let bitrate = if layout.channels == 1 { "64k" } else { "128k" };
                    let out = staging.join(format!("{stem}.wma"));
                    run(ffmpeg()
                        .arg("-i")
                        .arg(&wav)
                        .args(["-c:a", "wmav2", "-b:a", bitrate])
                        .arg(out));
                }
                fs::remove_file(&wav).expect("remove source WAV");
            }
        })
    });
    read(&dir.join(name))
}

/// `ffmpeg` quiet, overwriting, not reading stdin; inputs and outputs still to add.
pub fn ffmpeg() -> Command {
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    ffmpeg
}

/// The folder `name` in the target's tmp dir, filled by `make` if an earlier run has not.
/// `make` fills a private folder that is then renamed into place, so a concurrent run sees
/// either nothing or a complete set.
fn cached_dir(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(name);
    if dir.join("done").exists() {
        return dir;
    }
    let staging = base.join(format!("{name}-staging-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).expect("media staging dir");
    make(&staging);
    fs::write(staging.join("done"), b"").expect("media done marker");
    if fs::rename(&staging, &dir).is_err() {
        // Another run won the race; its set is as good as ours.
        let _ = fs::remove_dir_all(&staging);
    }
    dir
}

#[track_caller]
fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("reading encoded media `{}`: {e}", path.display()))
}
