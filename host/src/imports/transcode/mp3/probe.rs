//! The length and channels of any library file, read by `ffprobe` with its container forced.

use std::fs::File;

use super::format::RATE;
use crate::imports::bindings::tapedeck::server::mp3::{Container, Mp3Stream};
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::transcode::demux::{Reading, input_args};
use crate::imports::transcode::probe::run_probe;

/// The longest source encoded: a day. Keeps every count the guest derives from it (frames in
/// the Info tag's 32 bits among them) far from overflow whatever a hostile file claims.
const MAX_SAMPLES: u64 = 24 * 3600 * RATE;

/// The source's samples at 48 kHz and its channels (1 or 2 once mixed down), with `bitrate`.
pub(super) async fn probe(
    input: File,
    container: Container,
    bitrate: u32,
) -> Result<Mp3Stream, TranscodeError> {
    let mut args = vec!["-v", "error"];
    args.extend(input_args(container, Reading::Probe));
    args.extend(["-select_streams", "a:0", "-show_entries"]);
    args.extend(["stream=sample_rate,channels,time_base,duration_ts:format=duration"]);
    args.extend(["-of", "default=noprint_wrappers=1"]);
    let (samples, channels) = run_probe("ffprobe", &args, input, parse).await?;
    Ok(Mp3Stream { samples, channels, bitrate })
}

/// Samples at 48 kHz and channels (1 or 2) from ffprobe's `key=value` lines. The stream's
/// `duration_ts` in its `time_base` is exact where the container records a length (FLAC,
/// WAV, WavPack); otherwise the container's `duration` (microseconds) is used.
fn parse(stdout: &str) -> Option<(u64, u8)> {
    let value =
        |key: &str| stdout.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='));
    let channels: u32 = value("channels")?.parse().ok()?;
    let channels = match channels {
        0 => return None,
        1 => 1,
        _ => 2,
    };
    let exact = || {
        let ticks: u128 = value("duration_ts")?.parse().ok()?;
        let (num, den) = value("time_base")?.split_once('/')?;
        let (num, den): (u128, u128) = (num.parse().ok()?, den.parse().ok()?);
        (den > 0).then(|| (ticks * num * u128::from(RATE) + den / 2) / den)
    };
    let from_duration = || {
        let secs: f64 = value("duration")?.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| (secs * RATE as f64).round() as u128)
    };
    let samples = exact().or_else(from_duration)?;
    let samples = u64::try_from(samples).ok().filter(|&s| s <= MAX_SAMPLES)?;
    Some((samples, channels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, what ffprobe printed, samples at 48 kHz and channels).
    type Case = (&'static str, &'static str, Option<(u64, u8)>);

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        ("captured: FLAC, 3 s at 44.1 kHz",
            "sample_rate=44100\nchannels=2\ntime_base=1/44100\nduration_ts=132300\nduration=3.000000\n",
            Some((144_000, 2))),
        ("an odd sample count rounds to the nearest", "channels=1\ntime_base=1/44100\nduration_ts=1\n", Some((1, 1))),
        ("six channels mix down to two", "channels=6\ntime_base=1/48000\nduration_ts=480\n", Some((480, 2))),
        ("no ticks: the duration", "channels=2\ntime_base=1/14112000\nduration_ts=N/A\nduration=1.500000\n", Some((72_000, 2))),
        ("no duration at all", "channels=2\nduration_ts=N/A\nduration=N/A\n", None),
        ("no channels", "channels=0\nduration=1\n", None),
        ("zero time base", "channels=1\ntime_base=1/0\nduration_ts=5\nduration=1\n", Some((48_000, 1))),
        ("longer than a day", "channels=2\nduration=90000\n", None),
        ("negative", "channels=2\nduration=-1\n", None),
        ("empty", "", None),
    ];

    #[test]
    fn ffprobe_table() {
        for &(name, stdout, want) in CASES {
            assert_eq!(parse(stdout), want, "{name}");
        }
    }
}
