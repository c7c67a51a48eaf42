//! What an MP3 stream is made of: its rate and the bitrates Layer III signals.

/// The sample rate of every stream: at 48 kHz a Layer III frame is `3 × kbit/s` bytes exactly.
pub(super) const RATE: u64 = 48_000;

/// The bitrates Layer III signals, in kbit/s, by header index 1..=14.
pub(super) const BITRATES: [u32; 14] =
    [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/// `requested` kbit/s lowered to `max` (0: no cap), then to a bitrate Layer III signals (32
/// at least).
pub(super) fn settle_bitrate(requested: u32, max: u32) -> u32 {
    let ceiling = if max == 0 { requested } else { requested.min(max) };
    BITRATES.iter().copied().filter(|&kbps| kbps <= ceiling).max().unwrap_or(BITRATES[0])
}

#[cfg(test)]
mod tests {
    use super::settle_bitrate;

    #[test]
    fn bitrate_is_clamped_to_the_limit_and_to_layer_three() {
        #[rustfmt::skip]
        let cases = [(192, 320, 192), (320, 128, 128), (320, 100, 96), (32, 320, 32),
            (320, 0, 320), (100, 0, 96), (100, 320, 96), (1000, 1000, 320), (1000, 0, 320)];
        for (requested, max, want) in cases {
            assert_eq!(settle_bitrate(requested, max), want, "{requested} under {max}");
        }
    }
}
