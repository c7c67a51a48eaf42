//! What an HLS rendition needs to know of a source, read by `ffprobe` with its container forced.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::{LazyLock, Mutex};

use crate::imports::bindings::tapedeck::server::hls::Source;
use crate::imports::bindings::tapedeck::server::mp3::Container;
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::decoders::Transcoder;
use crate::imports::decoders::reopen_file;
use crate::imports::transcode::demux::{Reading, input_args};
use crate::imports::transcode::probe::{run_probe, spawn_error};

/// The longest source: a day, as for MP3 streams.
const MAX_SECS: u64 = 24 * 3600;
/// The highest rate taken: FLAC's STREAMINFO holds up to 655 kHz; past 768 kHz no file is real.
const MAX_RATE: u32 = 655_350;
/// Codecs whose samples are the original's.
const LOSSLESS: [&str; 4] = ["flac", "alac", "wavpack", "wmalossless"];

/// Probes remembered, so the requests of a stream's segments each start one process, not two:
/// an `ffprobe` costs about 100 ms here. Bounded: emptied when full.
const REMEMBERED: usize = 4096;

/// A file's identity and version: the same key is the same bytes (as far as a file's size and
/// modification time to the nanosecond tell), whichever tenant or path reaches it.
type FileKey = (u64, u64, u64, i64, i64);

static PROBES: LazyLock<Mutex<HashMap<FileKey, Source>>> = LazyLock::new(Mutex::default);

/// The source's rate, length, channels, depth and kind, with the tenant's `max_bitrate`:
/// remembered from an earlier probe of the same file, or probed now by one of the tenant's
/// decoders.
pub(super) async fn probe(
    input: File,
    container: Container,
    transcoder: &Transcoder,
) -> Result<Source, TranscodeError> {
    let max_bitrate = transcoder.limits.max_bitrate;
    let key = input
        .metadata()
        .map(|meta| (meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec()))
        .ok();
    let remembered = key.and_then(|key| PROBES.lock().unwrap().get(&key).copied());
    if let Some(source) = remembered {
        return Ok(Source { max_bitrate, ..source });
    }
    let source = {
        let _permit = transcoder.permit()?;
        // The decode that counts samples reads its own open file, opened only where it runs.
        let again = decoded_length_differs(container)
            .then(|| reopen_file(&input))
            .transpose()
            .map_err(|error| spawn_error("ffprobe", error))?;
        let source = run(input, container).await?;
        match again {
            Some(again) => {
                let samples = decoded_samples(again, container, source.sample_rate).await?;
                Source { samples, ..source }
            }
            None => source,
        }
    };
    if let Some(key) = key {
        let mut probes = PROBES.lock().unwrap();
        if probes.len() >= REMEMBERED {
            probes.clear();
        }
        probes.insert(key, source);
    }
    Ok(Source { max_bitrate, ..source })
}

/// Runs `ffprobe` on `input`.
async fn run(input: File, container: Container) -> Result<Source, TranscodeError> {
    let mut args = vec!["-v", "error"];
    args.extend(input_args(container, Reading::Probe));
    args.extend(["-select_streams", "a:0", "-show_entries"]);
    args.extend([concat!(
        "stream=codec_name,sample_rate,channels,bits_per_sample,bits_per_raw_sample,",
        "time_base,duration_ts:format=duration"
    )]);
    args.extend(["-of", "default=noprint_wrappers=1"]);
    run_probe("ffprobe", &args, input, parse).await
}

/// Whether a decode of `container` yields other than the samples ffprobe's length counts: an
/// MP3's LAME tag and Opus's pre-skip say what the decoder trims (ffprobe counts an MP3's
/// encoder delay and padding, an Opus stream's pre-skip); Ogg may hold either Vorbis or Opus.
fn decoded_length_differs(container: Container) -> bool {
    matches!(container, Container::Mp3 | Container::Ogg)
}

/// The samples a decode of `input` yields, at `rate`: its end time as `ffmpeg -progress`
/// reports it, to the microsecond (half a sample is 5 µs at 96 kHz). A decode without output
/// is quick (0.85 s for 10 minutes of MP3 here), and a file is probed once per version.
async fn decoded_samples(
    input: File,
    container: Container,
    rate: u32,
) -> Result<u64, TranscodeError> {
    let mut args = vec!["-nostdin", "-v", "error", "-threads", "1"];
    // From the file, not a pipe: ffmpeg trims an MP3's end padding only where it can seek.
    args.extend(input_args(container, Reading::Probe));
    args.extend(["-map", "0:a:0", "-f", "null", "-progress", "pipe:1", "-nostats", "-"]);
    let micros = run_probe("ffmpeg", &args, input, end_micros).await?;
    let samples = (u128::from(micros) * u128::from(rate) + 500_000) / 1_000_000;
    u64::try_from(samples)
        .ok()
        .filter(|&samples| samples <= MAX_SECS * u64::from(rate))
        .ok_or_else(|| TranscodeError::Corrupt("ffmpeg cannot read this file".into()))
}

/// The last `out_time_us` of `ffmpeg -progress` output, once it says `progress=end`.
fn end_micros(stdout: &str) -> Option<u64> {
    stdout.lines().any(|line| line == "progress=end").then_some(())?;
    stdout.lines().filter_map(|line| line.strip_prefix("out_time_us=")?.parse().ok()).next_back()
}

/// A [`Source`] (without a bitrate cap) from ffprobe's `key=value` lines, every field checked:
/// the samples from the stream's `duration_ts` in its `time_base` where the container records
/// them (FLAC, WAV, WavPack, MP4), else from the container's `duration`.
fn parse(stdout: &str) -> Option<Source> {
    let value =
        |key: &str| stdout.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='));
    let number = |key: &str| value(key).and_then(|v| v.parse::<u64>().ok());
    let sample_rate: u32 =
        value("sample_rate")?.parse().ok().filter(|&r| (1..=MAX_RATE).contains(&r))?;
    let channels = match number("channels")? {
        0 => return None,
        1 => 1,
        _ => 2,
    };
    let codec = value("codec_name")?;
    let lossless = LOSSLESS.contains(&codec) || codec.starts_with("pcm_");
    let depth =
        number("bits_per_raw_sample").unwrap_or(0).max(number("bits_per_sample").unwrap_or(0));
    let bits = if depth > 16 { 24 } else { 16 };
    let rate = u128::from(sample_rate);
    let exact = || {
        let ticks: u128 = value("duration_ts")?.parse().ok()?;
        let (num, den) = value("time_base")?.split_once('/')?;
        let (num, den): (u128, u128) = (num.parse().ok()?, den.parse().ok()?);
        if den == 0 {
            return None;
        }
        Some((ticks.checked_mul(num)?.checked_mul(rate)? + den / 2) / den)
    };
    let from_duration = || {
        let secs: f64 = value("duration")?.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| (secs * sample_rate as f64).round() as u128)
    };
    let samples = exact().or_else(from_duration)?;
    let samples =
        u64::try_from(samples).ok().filter(|&s| s <= MAX_SECS * u64::from(sample_rate))?;
    Some(Source { sample_rate, samples, channels, bits, lossless, max_bitrate: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn source(
        sample_rate: u32,
        samples: u64,
        channels: u8,
        bits: u8,
        lossless: bool,
    ) -> Source {
        Source { sample_rate, samples, channels, bits, lossless, max_bitrate: 0 }
    }

    /// (name, what ffprobe printed, the source).
    #[rustfmt::skip]
    const CASES: &[(&str, &str, Option<Source>)] = &[
        ("captured: FLAC, 3 s at 44.1 kHz, 16 bits",
            "codec_name=flac\nsample_rate=44100\nchannels=2\nbits_per_sample=0\ntime_base=1/44100\nduration_ts=132300\nbits_per_raw_sample=16\nduration=3.000000\n",
            Some(source(44_100, 132_300, 2, 16, true))),
        ("captured: 24-bit FLAC at 96 kHz",
            "codec_name=flac\nsample_rate=96000\nchannels=2\nbits_per_sample=0\ntime_base=1/96000\nduration_ts=480000\nbits_per_raw_sample=24\n",
            Some(source(96_000, 480_000, 2, 24, true))),
        ("float WAV keeps 24 bits", "codec_name=pcm_f32le\nsample_rate=48000\nchannels=1\nbits_per_sample=32\ntime_base=1/48000\nduration_ts=48000\n",
            Some(source(48_000, 48_000, 1, 24, true))),
        ("MP3 from its duration", "codec_name=mp3\nsample_rate=44100\nchannels=2\nbits_per_sample=0\ntime_base=1/14112000\nduration_ts=N/A\nbits_per_raw_sample=N/A\nduration=2.000000\n",
            Some(source(44_100, 88_200, 2, 16, false))),
        ("six channels mix down", "codec_name=alac\nsample_rate=48000\nchannels=6\ntime_base=1/48000\nduration_ts=10\n",
            Some(source(48_000, 10, 2, 16, true))),
        ("no rate", "codec_name=flac\nsample_rate=0\nchannels=2\nduration=1\n", None),
        ("absurd rate", "codec_name=flac\nsample_rate=4000000\nchannels=2\nduration=1\n", None),
        ("no channels", "codec_name=flac\nsample_rate=44100\nchannels=0\nduration=1\n", None),
        ("no codec", "sample_rate=44100\nchannels=2\nduration=1\n", None),
        ("longer than a day", "codec_name=mp3\nsample_rate=8000\nchannels=2\nduration=90000\n", None),
        ("overflowing ticks", "codec_name=flac\nsample_rate=44100\nchannels=2\ntime_base=4294967295/1\nduration_ts=340282366920938463463374607431768211455\nduration=1\n",
            Some(source(44_100, 44_100, 2, 16, true))),
        ("negative", "codec_name=mp3\nsample_rate=44100\nchannels=2\nduration=-1\n", None),
        ("empty", "", None),
    ];

    #[test]
    fn progress_table() {
        #[rustfmt::skip]
        let cases = [
            ("captured: 10 min of MP3", "out_time_us=599000000\nprogress=continue\nout_time_us=600000000\nprogress=end\n", Some(600_000_000)),
            ("no end: the decoder stopped", "out_time_us=5000\nprogress=continue\n", None),
            ("N/A", "out_time_us=N/A\nprogress=end\n", None),
            ("empty", "", None),
        ];
        for (name, stdout, want) in cases {
            assert_eq!(end_micros(stdout), want, "{name}");
        }
    }

    #[test]
    fn ffprobe_table() {
        for &(name, stdout, want) in CASES {
            assert_eq!(parse(stdout), want, "{name}");
        }
    }
}
