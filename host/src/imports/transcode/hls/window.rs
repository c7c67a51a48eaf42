//! The samples of one segment's window, decoded by a confined `ffmpeg` from the whole second
//! before it (or from the file's start where seeks are not exact), so a window's samples
//! depend only on the file and the window.

use std::fs::File;
use std::io;
use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::imports::bindings::tapedeck::server::mp3::Container;
use crate::imports::transcode::demux::{Reading, input_args, seeks_exactly};
use crate::io::confine::{Reaped, confine};

/// Interleaved little-endian integer samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Depth {
    /// `s16le`.
    S16,
    /// `s32le`, 24-bit sources in its top bits.
    S32,
}

impl Depth {
    fn bytes(self) -> u64 {
        match self {
            Self::S16 => 2,
            Self::S32 => 4,
        }
    }
    /// ffmpeg's name of the raw format.
    pub(super) fn raw(self) -> &'static str {
        match self {
            Self::S16 => "s16le",
            Self::S32 => "s32le",
        }
    }
}

/// A window of a source, resampled to `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    /// The first sample at `rate`: before 0 (and from `total` on) the window holds silence.
    pub start: i64,
    /// Samples in the window.
    pub samples: u64,
    /// The output rate.
    pub rate: u32,
    /// The source's samples at `rate`: the decoder's output is cut there.
    pub total: u64,
    /// 1 or 2: ffmpeg mixes down to it.
    pub channels: u8,
    /// How each sample is written.
    pub depth: Depth,
}

/// Seconds of decoded audio dropped before a window: enough for a decoder (MDCT overlap, Opus
/// pre-roll) and the resampler to settle, so the window's samples are those of a decode from
/// the start.
const SETTLE_SECS: u64 = 1;

/// Decodes `window` of `file` (a `container`): ffmpeg seeks to a whole second, where its
/// output starts at an exact sample, and the samples up to the window are read and dropped.
pub(super) async fn decode(
    file: File,
    container: Container,
    window: &Window,
) -> io::Result<Vec<u8>> {
    let rate = u64::from(window.rate);
    let from = window.start.max(0) as u64;
    let seek_secs =
        if seeks_exactly(container) { (from / rate).saturating_sub(SETTLE_SECS) } else { 0 };
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-threads", "1"]);
    if seek_secs > 0 {
        command.args(["-ss", &seek_secs.to_string()]);
    }
    let reading = if seek_secs > 0 { Reading::Seek } else { Reading::Decode };
    command.args(input_args(container, reading));
    command.args(["-map", "0:a:0", "-ac", &window.channels.to_string()]);
    let raw = window.depth.raw();
    command.args(["-ar", &window.rate.to_string(), "-f", raw, "-acodec", &["pcm_", raw].concat()]);
    command.arg("pipe:1");
    confine(&mut command);
    let mut child = command
        .stdin(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let _child = Reaped::new(child);

    let frame = window.depth.bytes() * u64::from(window.channels);
    let mut pcm = vec![0; (window.samples * frame) as usize];
    // Where the decoded samples land in the window, and which of them are wanted.
    let leading_silence = (from as i64 - window.start) as u64;
    let end = ((window.start + window.samples as i64).max(0) as u64).min(window.total);
    let mut skip = (from - seek_secs * rate) * frame;
    let mut at = (leading_silence * frame) as usize;
    let stop = at + (end.saturating_sub(from) * frame) as usize;
    let mut buf = vec![0; 64 * 1024];
    while at < stop {
        let got = stdout.read(&mut buf).await?;
        if got == 0 {
            break; // a short decode: the rest stays silent
        }
        let dropped = skip.min(got as u64) as usize;
        skip -= dropped as u64;
        let take = (got - dropped).min(stop - at);
        pcm[at..at + take].copy_from_slice(&buf[dropped..dropped + take]);
        at += take;
    }
    Ok(pcm)
}
