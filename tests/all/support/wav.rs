//! PCM made here and the canonical 44-byte WAV header: the source of every WAV and
//! transcoded file the tests serve, and what a transcode must give back.

use super::bytes::SplitMix64;

/// What a WAV header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub rate: u32,
    pub channels: u16,
    pub bits: u16,
}

impl Layout {
    pub fn block_align(self) -> usize {
        usize::from(self.channels) * usize::from(self.bits / 8)
    }
}

/// Channel `c` carries a sine at `TONES_HZ[c]`: a swapped channel shows in the bytes and,
/// for lossy codecs, in each channel's pitch.
pub const TONES_HZ: [f64; 2] = [440.0, 1000.0];

/// Interleaved little-endian PCM: each channel a half-scale sine at its own `TONES_HZ`,
/// plus (with `noise`) quiet noise of its own, so the low bytes of every sample matter.
pub fn synth(layout: Layout, seconds: f64, noise: bool) -> Vec<u8> {
    let frames = (f64::from(layout.rate) * seconds).round() as usize;
    let bytes = usize::from(layout.bits / 8);
    let full_scale = f64::from((1u32 << (layout.bits - 1)) - 1);
    let mut noise_sources: Vec<SplitMix64> =
        (0..layout.channels).map(|c| SplitMix64(0xD1CE + u64::from(c))).collect();
    let mut pcm = Vec::with_capacity(frames * layout.block_align());
    for n in 0..frames {
        let t = n as f64 / f64::from(layout.rate);
        for (c, rng) in noise_sources.iter_mut().enumerate() {
            let tone = 0.5 * (std::f64::consts::TAU * TONES_HZ[c % TONES_HZ.len()] * t).sin();
            let hiss = if noise { rng.unit() / 64.0 } else { 0.0 };
            let sample = ((tone + hiss) * full_scale).round() as i32;
            pcm.extend_from_slice(&sample.to_le_bytes()[..bytes]);
        }
    }
    pcm
}

/// A canonical PCM WAV: the 44-byte header, then `pcm`.
pub fn wav_file(layout: Layout, pcm: &[u8]) -> Vec<u8> {
    let mut wav = WavHeader::of(layout, pcm.len()).bytes().to_vec();
    wav.extend_from_slice(pcm);
    wav
}

/// The fields of a canonical 44-byte WAV header.
#[derive(Debug, PartialEq, Eq)]
pub struct WavHeader {
    pub riff_len: u32,
    pub format_tag: u16,
    pub channels: u16,
    pub rate: u32,
    pub byte_rate: u32,
    pub block_align: u16,
    pub bits: u16,
    pub data_len: u32,
}

impl WavHeader {
    /// The header of integer PCM in `layout` with `data_len` bytes of samples.
    pub fn of(layout: Layout, data_len: usize) -> WavHeader {
        let data_len = u32::try_from(data_len).expect("test PCM fits a WAV");
        WavHeader {
            riff_len: 36 + data_len,
            format_tag: 1,
            channels: layout.channels,
            rate: layout.rate,
            byte_rate: layout.rate * layout.block_align() as u32,
            block_align: layout.block_align() as u16,
            bits: layout.bits,
            data_len,
        }
    }

    pub fn bytes(&self) -> [u8; 44] {
        let mut out = Vec::with_capacity(44);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&self.riff_len.to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&self.format_tag.to_le_bytes());
        out.extend_from_slice(&self.channels.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.extend_from_slice(&self.byte_rate.to_le_bytes());
        out.extend_from_slice(&self.block_align.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&self.data_len.to_le_bytes());
        out.try_into().expect("44 bytes")
    }

    /// Parses the first 44 bytes of `body`; the chunk ids must be where a canonical header
    /// has them.
    #[track_caller]
    pub fn parse(body: &[u8]) -> WavHeader {
        assert!(body.len() >= 44, "a WAV body of {} bytes has no header", body.len());
        let h = &body[..44];
        assert_eq!(
            (&h[0..4], &h[8..16], &h[16..20], &h[36..40]),
            (&b"RIFF"[..], &b"WAVEfmt "[..], &16u32.to_le_bytes()[..], &b"data"[..]),
            "not a canonical WAV header: {h:?}"
        );
        let u16_at = |at: usize| u16::from_le_bytes([h[at], h[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes(h[at..at + 4].try_into().unwrap());
        WavHeader {
            riff_len: u32_at(4),
            format_tag: u16_at(20),
            channels: u16_at(22),
            rate: u32_at(24),
            byte_rate: u32_at(28),
            block_align: u16_at(32),
            bits: u16_at(34),
            data_len: u32_at(40),
        }
    }
}
