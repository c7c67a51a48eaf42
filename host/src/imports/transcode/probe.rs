//! Reading a file's PCM format with the decoder's own tool (`wvunpack -f`, `ffprobe`),
//! and parsing what those tools print.

use std::fs::File;
use std::io;
use std::process::Stdio;

use tokio::process::Command;

use crate::io::confine::confine;

use crate::imports::bindings::tapedeck::server::transcode::{Codec, PcmFormat, TranscodeError};

/// The program that decodes `codec`, as the error names it when it is missing.
pub(super) fn tool(codec: Codec, probing: bool) -> &'static str {
    match (codec, probing) {
        (Codec::Wavpack, _) => "wvunpack",
        (Codec::Wma, true) => "ffprobe",
        (Codec::Wma, false) => "ffmpeg",
    }
}

pub(super) async fn probe(input: File, codec: Codec) -> Result<PcmFormat, TranscodeError> {
    let args: &[&str] = match codec {
        // `-f`: one machine-readable line, `rate;bits;int|float;channels;mask;frames;…`.
        Codec::Wavpack => &["-f", "-"],
        // The container is forced, as for decoding (see `decoder.rs`).
        Codec::Wma => &[
            "-v",
            "error",
            "-f",
            "asf",
            "-protocol_whitelist",
            "pipe",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=sample_rate,channels:format=duration",
            "-of",
            "default=noprint_wrappers=1",
            "pipe:0",
        ],
    };
    let name = tool(codec, true);
    run_probe(name, args, input, |stdout| match codec {
        Codec::Wavpack => parse_wvunpack_info(stdout),
        Codec::Wma => parse_ffprobe(stdout),
    })
    .await
}

/// Runs the probe `name` (confined) with `args` on `input`, and reads what it printed with
/// `parse`. A tool that fails, or output `parse` refuses, is a corrupt file; the log gets
/// the tool's first line of complaint, the guest only the tool's name.
pub(super) async fn run_probe<T>(
    name: &'static str,
    args: &[&str],
    input: File,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, TranscodeError> {
    let mut command = Command::new(name);
    confine(&mut command);
    let output = command
        .args(args)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| spawn_error(name, error))?;
    match parse(&String::from_utf8_lossy(&output.stdout)) {
        Some(parsed) if output.status.success() => Ok(parsed),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr.lines().map(str::trim).find(|line| !line.is_empty());
            tracing::warn!(tool = name, reason, "probe failed");
            Err(TranscodeError::Corrupt(format!("{name} cannot read this file")))
        }
    }
}

pub(super) fn spawn_error(name: &str, error: io::Error) -> TranscodeError {
    if error.kind() == io::ErrorKind::NotFound {
        TranscodeError::MissingTool(name.into())
    } else {
        tracing::error!(tool = name, %error, "failed to start decoder");
        TranscodeError::Corrupt(format!("{name} could not be started"))
    }
}

/// The most PCM bytes a WAV can describe: its RIFF size field is 32 bits.
const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - 44;

/// A format a WAV can carry, or `None`: decoder output is the decoder's reading of a
/// hostile file, so every field is checked before the guest does arithmetic with it.
fn checked(format: PcmFormat) -> Option<PcmFormat> {
    let block_align = u64::from(format.channels) * u64::from(format.bits_per_sample / 8);
    let plausible = (1..=768_000).contains(&format.sample_rate)
        && (1..=32).contains(&format.channels)
        && matches!(format.bits_per_sample, 8 | 16 | 24 | 32)
        && (!format.float || format.bits_per_sample == 32)
        && format.total_frames.checked_mul(block_align)? <= MAX_WAV_DATA_BYTES;
    plausible.then_some(format)
}

/// Parses `wvunpack -f`: `rate;bits;int|float;channels;mask;frames;md5;version;mode;`.
fn parse_wvunpack_info(stdout: &str) -> Option<PcmFormat> {
    let mut fields = stdout.lines().next()?.split(';');
    let mut next = || fields.next();
    let sample_rate = next()?.parse().ok()?;
    let bits_per_sample = next()?.parse().ok()?;
    let float = match next()? {
        "int" => false,
        "float" => true,
        _ => return None,
    };
    let channels = next()?.parse().ok()?;
    let _mask = next()?;
    let total_frames = next()?.parse().ok()?;
    checked(PcmFormat { sample_rate, bits_per_sample, float, channels, total_frames })
}

/// Parses ffprobe's `key=value` lines; WMA is decoded to 16-bit integers, and its
/// frame count is the container's duration (the guest pads or trims to it).
fn parse_ffprobe(stdout: &str) -> Option<PcmFormat> {
    let value =
        |key: &str| stdout.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='));
    let sample_rate: u32 = value("sample_rate")?.parse().ok()?;
    let duration: f64 = value("duration")?.parse().ok()?;
    if !duration.is_finite() || duration < 0.0 {
        return None;
    }
    // Saturates for durations past any WAV, which `checked` refuses.
    let total_frames = (duration * f64::from(sample_rate)).round() as u64;
    checked(PcmFormat {
        sample_rate,
        channels: value("channels")?.parse().ok()?,
        bits_per_sample: 16,
        float: false,
        total_frames,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const fn format(sample_rate: u32, channels: u16, bits: u16, frames: u64) -> PcmFormat {
        PcmFormat {
            sample_rate,
            channels,
            bits_per_sample: bits,
            float: false,
            total_frames: frames,
        }
    }

    /// (name, what `wvunpack -f` printed, the format it describes).
    #[rustfmt::skip]
    const WVUNPACK: &[(&str, &str, Option<PcmFormat>)] = &[
        ("captured: 16-bit stereo", "44100;16;int;2;0x3;44100;;5;0x2;\n", Some(format(44100, 2, 16, 44100))),
        ("captured: 24-bit mono with md5", "48000;24;int;1;0x4;1440000;d41d8cd98f00b204e9800998ecf8427e;5;0x12;\n", Some(format(48000, 1, 24, 1_440_000))),
        ("float samples", "96000;32;float;2;0x3;10;;5;0x2;", Some(PcmFormat { float: true, ..format(96000, 2, 32, 10) })),
        ("truncated after channels", "44100;16;int;2", None),
        ("truncated mid-number", "441", None),
        ("empty output", "", None),
        ("an error message instead", "can't open file", None),
        ("neither int nor float", "44100;16;pcm;2;0x3;44100;", None),
        ("zero rate", "0;16;int;2;0x3;44100;", None),
        ("zero channels", "44100;16;int;0;0x3;44100;", None),
        ("12-bit samples", "44100;12;int;2;0x3;44100;", None),
        ("float at 16 bits", "44100;16;float;2;0x3;44100;", None),
        ("negative frames", "44100;16;int;2;0x3;-1;", None),
        ("frames past a WAV's size", "44100;16;int;2;0x3;1073741824;", None),
        ("frames past u64", "44100;16;int;2;0x3;99999999999999999999;", None),
    ];

    #[test]
    fn wvunpack_info_table() {
        for &(name, stdout, want) in WVUNPACK {
            assert_eq!(parse_wvunpack_info(stdout), want, "{name}");
        }
    }

    /// (name, what ffprobe printed, the format it describes).
    #[rustfmt::skip]
    const FFPROBE: &[(&str, &str, Option<PcmFormat>)] = &[
        ("captured: mono WMA", "sample_rate=44100\nchannels=1\nduration=3.018000\n", Some(format(44100, 1, 16, 133_094))),
        ("keys in another order", "duration=1.000000\nchannels=2\nsample_rate=48000\n", Some(format(48000, 2, 16, 48000))),
        ("no duration", "sample_rate=44100\nchannels=2\n", None),
        ("duration N/A", "sample_rate=44100\nchannels=2\nduration=N/A\n", None),
        ("infinite duration", "sample_rate=44100\nchannels=2\nduration=inf\n", None),
        ("NaN duration", "sample_rate=44100\nchannels=2\nduration=NaN\n", None),
        ("negative duration", "sample_rate=44100\nchannels=2\nduration=-3\n", None),
        ("a day and more of stereo", "sample_rate=48000\nchannels=2\nduration=90000\n", None),
        ("truncated value", "sample_rate=\nchannels=2\nduration=1\n", None),
        ("value without key", "=44100\n", None),
        ("key prefix only", "sample_rate_x=44100\nchannels=1\nduration=1\n", None),
        ("empty", "", None),
    ];

    #[test]
    fn ffprobe_table() {
        for &(name, stdout, want) in FFPROBE {
            assert_eq!(parse_ffprobe(stdout), want, "{name}");
        }
    }

    /// Whether the guest can do its WAV arithmetic on `format` without overflow: a block
    /// align that fits the header's u16, a byte rate that fits its u32, and the whole WAV
    /// within RIFF's 32-bit size. Checked here on its own, not through `checked`, so a
    /// mistake in `checked` shows.
    fn fits_a_wav(format: &PcmFormat) -> bool {
        let block_align = u64::from(format.channels) * u64::from(format.bits_per_sample / 8);
        block_align > 0
            && block_align <= u64::from(u16::MAX)
            && u64::from(format.sample_rate) * block_align <= u64::from(u32::MAX)
            && format
                .total_frames
                .checked_mul(block_align)
                .is_some_and(|data| data + 44 <= u64::from(u32::MAX))
    }

    /// A field as a decoder might print it when the file lies: numbers of every size, signs,
    /// spaces, floats, words, nothing.
    fn junk() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            prop::sample::select(&["0", "-1", "+44100", " 44100", "44100 ", "", "1e3", "0x10"][..])
                .prop_map(str::to_owned),
            Just("99999999999999999999".to_owned()),
            "[0-9a-z.+-]{0,8}",
        ]
    }

    /// Mostly a number from `plausible` (often near the edge of what `checked` accepts),
    /// sometimes [`junk`].
    fn number<T: ToString + std::fmt::Debug>(
        plausible: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = String> {
        prop_oneof![5 => plausible.prop_map(|n| n.to_string()), 1 => junk()]
    }

    /// Frame counts: small ones, any, and those around the most a WAV holds at each block
    /// align, where `checked` draws its line.
    fn frames() -> impl Strategy<Value = u64> {
        let edge = (1u64..=128, -2i64..=2)
            .prop_map(|(align, delta)| (MAX_WAV_DATA_BYTES / align).saturating_add_signed(delta));
        prop_oneof![0..=100_000u64, edge, any::<u64>()]
    }

    /// What `wvunpack -f` prints, mostly well-formed, with fields junked, dropped and
    /// separated by other characters, and anything after it.
    fn wvunpack_output() -> impl Strategy<Value = String> {
        let fields = (
            number(1u32..=800_000),
            number(prop::sample::select(&[8u16, 16, 24, 32, 0, 12, 64][..])),
            "int|int|int|float|pcm|",
            number(prop_oneof![1u16..=2, 0u16..=40]),
            junk(),
            number(frames()),
        );
        (fields, prop::option::weighted(0.2, 0usize..6), ";|;|;|;|;|;|;|,", ".*").prop_map(
            |((rate, bits, kind, channels, mask, frames), dropped, separator, rest)| {
                let mut fields = vec![rate, bits, kind, channels, mask, frames];
                if let Some(index) = dropped {
                    fields.remove(index);
                }
                format!("{}{separator}\n{rest}", fields.join(&separator))
            },
        )
    }

    /// What ffprobe prints: the three keys it is asked for, mostly with plausible values,
    /// some missing or repeated, among other lines, in any order.
    fn ffprobe_output() -> impl Strategy<Value = String> {
        let duration = prop_oneof![
            3 => (-3.0f64..5.0).prop_map(|exponent| format!("{:.6}", 10f64.powf(exponent))),
            1 => "N/A|inf|-inf|NaN|nan|1e308|1e-308|-0|-3|",
            1 => any::<f64>().prop_map(|d| d.to_string()),
        ];
        let line = |key: &'static str, value: BoxedStrategy<String>| {
            prop::option::weighted(0.9, value.prop_map(move |v| format!("{key}={v}")))
        };
        (
            line("sample_rate", number(1u32..=800_000).boxed()),
            line("channels", number(prop_oneof![1u16..=2, 0u16..=40]).boxed()),
            line("duration", duration.boxed()),
            prop::collection::vec("[a-z_]{0,12}=[^\n]{0,12}", 0..3),
        )
            .prop_flat_map(|(rate, channels, duration, others)| {
                let lines: Vec<String> =
                    [rate, channels, duration].into_iter().flatten().chain(others).collect();
                Just(lines).prop_shuffle()
            })
            .prop_map(|lines| lines.iter().map(|line| format!("{line}\n")).collect())
    }

    /// A plausible format: what `checked` promises to accept.
    fn plausible() -> impl Strategy<Value = PcmFormat> {
        (1u32..=768_000, 1u16..=32, prop::sample::select(&[8u16, 16, 24, 32][..]), any::<bool>())
            .prop_flat_map(|(sample_rate, channels, bits, float)| {
                let block_align = u64::from(channels) * u64::from(bits / 8);
                let most_frames = MAX_WAV_DATA_BYTES / block_align;
                (0..=most_frames).prop_map(move |total_frames| PcmFormat {
                    sample_rate,
                    channels,
                    bits_per_sample: bits,
                    float: float && bits == 32,
                    total_frames,
                })
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn any_wvunpack_output_parses_to_a_format_that_fits_a_wav_or_is_refused(
            stdout in prop_oneof![1 => ".*", 4 => wvunpack_output()]
        ) {
            if let Some(format) = parse_wvunpack_info(&stdout) {
                prop_assert_eq!(checked(format), Some(format));
                prop_assert!(fits_a_wav(&format), "{:?} from {:?}", format, stdout);
            }
        }

        #[test]
        fn plausible_wvunpack_lines_parse_to_their_fields(
            format in plausible(),
            md5 in "[0-9a-f]{0,32}",
        ) {
            let kind = if format.float { "float" } else { "int" };
            let stdout = format!(
                "{};{};{kind};{};0x3;{};{md5};5;0x2;\n",
                format.sample_rate, format.bits_per_sample, format.channels, format.total_frames
            );
            prop_assert_eq!(parse_wvunpack_info(&stdout), Some(format));
        }

        #[test]
        fn any_ffprobe_output_parses_to_a_format_that_fits_a_wav_or_is_refused(
            stdout in prop_oneof![1 => ".*", 4 => ffprobe_output()]
        ) {
            if let Some(format) = parse_ffprobe(&stdout) {
                prop_assert_eq!(checked(format), Some(format));
                prop_assert!(fits_a_wav(&format), "{:?} from {:?}", format, stdout);
                prop_assert_eq!((format.bits_per_sample, format.float), (16, false));
            }
        }

        #[test]
        fn plausible_ffprobe_output_gives_the_frames_of_its_duration(
            sample_rate in 1u32..=768_000,
            channels in 1u16..=32,
            fraction in 0.0f64..1.0,
        ) {
            // Whole seconds that fit a WAV, less one so rounding up a frame still fits.
            let seconds = MAX_WAV_DATA_BYTES / (u64::from(sample_rate) * u64::from(channels) * 2);
            let micros = (fraction * (seconds.saturating_sub(1) * 1_000_000) as f64) as u64;
            let stdout = format!(
                "sample_rate={sample_rate}\nchannels={channels}\nduration={}.{:06}\n",
                micros / 1_000_000,
                micros % 1_000_000
            );
            let format = parse_ffprobe(&stdout);
            prop_assert!(format.is_some(), "{:?}", stdout);
            let format = format.unwrap();
            prop_assert_eq!((format.sample_rate, format.channels), (sample_rate, channels));
            // Frames are the duration times the rate, to the nearest frame.
            let exact = u128::from(micros) * u128::from(sample_rate);
            let frames = u128::from(format.total_frames) * 1_000_000;
            prop_assert!(frames.abs_diff(exact) <= 1_000_000, "{:?} gave {:?}", stdout, format);
        }
    }
}
