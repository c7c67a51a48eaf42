//! How ffmpeg and ffprobe read each container a library holds, from the descriptor on stdin.

use tokio::process::Command;

use crate::imports::bindings::tapedeck::server::mp3::Container;

/// Seconds a decoder that seeks decodes before the samples it is asked for, and that are
/// dropped: enough for a decoder (MDCT overlap, Opus pre-roll) and the resampler to settle, so
/// the samples after them are those of a decode from the start.
pub(super) const SETTLE_SECS: u64 = 1;

/// What a tool does with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// Decodes it from the start.
    Decode,
    /// Reads its length and format.
    Probe,
    /// Decodes it from a position (`-ss` before the input).
    Seek,
}

/// ffmpeg's and ffprobe's input options for `container`, reading the descriptor on stdin. The
/// demuxer is forced, as for the WAV transcode (`decoder.rs`). Where the tool must seek, the
/// input is `file:/dev/stdin`, the same open file: MP4 written in one pass keeps its index at
/// the end, a probe finds the length of MP3 (without a Xing frame), Ogg and WAV only from the
/// file's size or its last page (from a pipe ffprobe says `duration=N/A`), and a seek needs
/// a seekable input. None of these demuxers opens other files by name (the mov demuxer follows
/// references only with `enable_drefs`), and the whitelist allows only `file` or `pipe`.
pub(super) fn input_args(container: Container, reading: Reading) -> [&'static str; 6] {
    let format = match container {
        Container::Mp3 => "mp3",
        Container::Flac => "flac",
        Container::Wav => "wav",
        Container::Mp4 => "mp4",
        Container::Ogg => "ogg",
        Container::Asf => "asf",
        Container::Wavpack => "wv",
    };
    let seeks = match (container, reading) {
        (Container::Mp4, _) => true,
        (Container::Asf, _) | (_, Reading::Decode) => false,
        (Container::Mp3 | Container::Wav | Container::Ogg, Reading::Probe) => true,
        (Container::Flac | Container::Wavpack, Reading::Probe) => false,
        (_, Reading::Seek) => seeks_exactly(container),
    };
    let (protocol, input) = if seeks { ("file", "file:/dev/stdin") } else { ("pipe", "pipe:0") };
    ["-f", format, "-protocol_whitelist", protocol, "-i", input]
}

/// Whether ffmpeg, seeking to a whole second of `container`, starts its output exactly at that
/// second's first sample: where the demuxer knows each packet's time (FLAC frame numbers, WAV
/// offsets, WavPack blocks, MP4 sample tables, Ogg granule positions) and drops the decoded
/// samples before the target. MP3 positions are estimates from the bitrate or the Xing table,
/// and WMA is decoded from its start, as its demuxer is the one most given to surprises.
pub(super) fn seeks_exactly(container: Container) -> bool {
    !matches!(container, Container::Mp3 | Container::Asf)
}

/// A single-threaded, quiet `ffmpeg` reading `container` on stdin from the whole second
/// `from_secs` on (0: from the start); the caller adds its output options.
pub(super) fn ffmpeg_from(container: Container, from_secs: u64) -> Command {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-v", "error", "-threads", "1"]);
    let reading = if from_secs > 0 {
        command.args(["-ss", &from_secs.to_string()]);
        Reading::Seek
    } else {
        Reading::Decode
    };
    command.args(input_args(container, reading));
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_table() {
        use Reading::{Decode, Probe, Seek};
        #[rustfmt::skip]
        let cases = [
            (Container::Mp4, Decode, "file:/dev/stdin"), (Container::Flac, Decode, "pipe:0"),
            (Container::Mp3, Probe, "file:/dev/stdin"), (Container::Flac, Probe, "pipe:0"),
            (Container::Flac, Seek, "file:/dev/stdin"), (Container::Wavpack, Seek, "file:/dev/stdin"),
            (Container::Mp3, Seek, "pipe:0"), (Container::Asf, Seek, "pipe:0"),
            (Container::Asf, Probe, "pipe:0"),
        ];
        for (container, reading, input) in cases {
            let args = input_args(container, reading);
            assert_eq!(args[5], input, "{container:?} {reading:?}");
            let protocol = if input == "pipe:0" { "pipe" } else { "file" };
            assert_eq!(args[3], protocol, "{container:?} {reading:?}");
        }
    }
}
