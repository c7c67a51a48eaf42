//! What an MP3 stream is made of: its rate, the bitrates Layer III signals, and how the
//! decoder reads each container.

use crate::imports::bindings::tapedeck::server::mp3::Container;

/// The sample rate of every stream: at 48 kHz a Layer III frame is `3 × kbit/s` bytes exactly.
pub(super) const RATE: u64 = 48_000;

/// The bitrates Layer III signals, in kbit/s, by header index 1..=14.
pub(super) const BITRATES: [u32; 14] =
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/// `requested` kbit/s lowered to `max`, then to a bitrate Layer III signals (32 at least).
pub(super) fn settle_bitrate(requested: u32, max: u32) -> u32 {
    let ceiling = requested.min(max);
    BITRATES.iter().copied().filter(|&kbps| kbps <= ceiling).max().unwrap_or(BITRATES[0])
}

/// ffmpeg's and ffprobe's input options for `container`, reading the descriptor on stdin. The
/// demuxer is forced, as for the WAV transcode (`decoder.rs`). Where the tool must seek, the
/// input is `file:/dev/stdin`, the same open file: MP4 written in one pass keeps its index at
/// the end, and a probe finds the length of MP3 (without a Xing frame), Ogg and WAV only
/// from the file's size or its last page (from a pipe ffprobe says `duration=N/A`). None of
/// these demuxers opens other files by name (the mov demuxer follows references only with
/// `enable_drefs`), and the whitelist allows only `file` or `pipe`.
pub(super) fn input_args(container: Container, probing: bool) -> [&'static str; 6] {
    let format = match container {
        Container::Mp3 => "mp3",
        Container::Flac => "flac",
        Container::Wav => "wav",
        Container::Mp4 => "mp4",
        Container::Ogg => "ogg",
        Container::Asf => "asf",
        Container::Wavpack => "wv",
    };
    let seeks = match container {
        Container::Mp4 => true,
        Container::Mp3 | Container::Wav | Container::Ogg => probing,
        Container::Flac | Container::Asf | Container::Wavpack => false,
    };
    let (protocol, input) = if seeks { ("file", "file:/dev/stdin") } else { ("pipe", "pipe:0") };
    ["-f", format, "-protocol_whitelist", protocol, "-i", input]
}

#[cfg(test)]
mod tests {
    use super::settle_bitrate;

    #[test]
    fn bitrate_is_clamped_to_the_limit_and_to_layer_three() {
        #[rustfmt::skip]
        let cases = [(192, 320, 192), (320, 128, 128), (320, 100, 96), (32, 320, 32),
            (320, 0, 32), (100, 320, 96), (1000, 1000, 320)];
        for (requested, max, want) in cases {
            assert_eq!(settle_bitrate(requested, max), want, "{requested} under {max}");
        }
    }
}
