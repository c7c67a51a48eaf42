//! WavPack: block headers for the properties, their metadata sub-blocks for non-standard
//! sample rates and channel counts. The APEv2 tag at the end holds tags and pictures.

use super::source::{Bytes, ReadAt, Source};
use super::{Codec, Malformed, Properties, ape, seconds};

/// Bytes of a block header.
const HEADER: usize = 32;
/// Blocks read to find the first frame's channels, or to count samples when the header
/// does not give the total.
const MAX_BLOCKS: usize = 1 << 20;
/// Flags.
const MONO: u32 = 4;
const FLOAT: u32 = 0x80;
const INITIAL: u32 = 0x800;
const FINAL: u32 = 0x1000;
const DSD: u32 = 0x8000_0000;
/// Metadata sub-block ids.
const ID_CHANNEL_INFO: u8 = 0x0d;
const ID_SAMPLE_RATE: u8 = 0x27;

const RATES: [u32; 15] = [
    6_000, 8_000, 9_600, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 64_000,
    88_200, 96_000, 192_000,
];

/// A block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    /// Bytes of the whole block.
    len: u64,
    /// Samples in the file, `None` when unknown.
    total: Option<u64>,
    samples: u32,
    flags: u32,
}

fn block(header: &[u8]) -> Option<Block> {
    if header.get(..4)? != b"wvpk" {
        return None;
    }
    let len = u64::from(header.u32_le(4)?) + 8;
    let low = header.u32_le(12)?;
    // The total is 40 bits: its top byte sits apart, and all ones means unknown.
    let total =
        (low != u32::MAX).then(|| u64::from(*header.get(11).unwrap_or(&0)) << 32 | u64::from(low));
    let samples = header.u32_le(20)?;
    let flags = header.u32_le(24)?;
    (len >= HEADER as u64).then_some(Block { len, total, samples, flags })
}

/// The value of the first metadata sub-block `id` in a block's body.
fn sub_block(body: &[u8], id: u8) -> Option<&[u8]> {
    let mut at = 0;
    while at + 2 <= body.len() {
        let kind = body[at];
        let (words, header) = if kind & 0x80 != 0 {
            (
                usize::from(*body.get(at + 1)?)
                    | usize::from(*body.get(at + 2)?) << 8
                    | usize::from(*body.get(at + 3)?) << 16,
                4,
            )
        } else {
            (usize::from(body[at + 1]), 2)
        };
        let len = words * 2 - usize::from(kind & 0x40 != 0 && words > 0);
        let value = at + header;
        if kind & 0x3f == id & 0x3f {
            return body.get(value..value + len);
        }
        at = value + words * 2;
    }
    None
}

/// The properties of a WavPack file.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let end = ape::audio_end(source);
    let first = block(&source.array::<HEADER>(0)?).ok_or(Malformed)?;
    if first.flags & DSD != 0 {
        return Err(Malformed);
    }
    let body = source.up_to(HEADER as u64, (first.len - HEADER as u64).min(64 * 1024) as usize);
    let sample_rate = match RATES.get(((first.flags >> 23) & 0xf) as usize) {
        Some(&rate) => rate,
        None => {
            let value = sub_block(&body, ID_SAMPLE_RATE).ok_or(Malformed)?;
            value.iter().take(4).rev().fold(0, |rate, &b| rate << 8 | u32::from(b))
        }
    };
    let bits = if first.flags & FLOAT != 0 { 32 } else { ((first.flags & 3) as u16 + 1) * 8 };
    // Multichannel files say how many channels there are; otherwise count the mono and
    // stereo blocks that make up the first frame.
    let channels = match sub_block(&body, ID_CHANNEL_INFO).and_then(|value| value.first()) {
        Some(&channels) if channels > 0 => u16::from(channels),
        _ => frame_channels(source, first, end),
    };
    let samples = match first.total {
        Some(total) => total,
        None => count_samples(source, end),
    };
    Ok(Properties {
        codec: Codec::WavPack,
        duration: seconds(samples, sample_rate),
        audio_bytes: end,
        sample_rate,
        channels,
        bits_per_sample: Some(bits),
    })
}

/// The channels of the first frame: one or two per block, up to the final block.
fn frame_channels<R: ReadAt>(source: &mut Source<R>, first: Block, end: u64) -> u16 {
    let mut channels = 0u16;
    let (mut offset, mut current) = (0, first);
    for _ in 0..MAX_BLOCKS {
        channels = channels.saturating_add(if current.flags & MONO != 0 { 1 } else { 2 });
        offset += current.len;
        if current.flags & FINAL != 0 || offset >= end {
            break;
        }
        match source.array::<HEADER>(offset).ok().and_then(|header| block(&header)) {
            Some(next) => current = next,
            None => break,
        }
    }
    channels
}

/// Samples counted block by block, for a file whose header leaves the total unknown.
fn count_samples<R: ReadAt>(source: &mut Source<R>, end: u64) -> u64 {
    let mut total = 0;
    let mut offset = 0;
    for _ in 0..MAX_BLOCKS {
        let Some(current) = source.array::<HEADER>(offset).ok().and_then(|header| block(&header))
        else {
            break;
        };
        if current.flags & INITIAL != 0 {
            total += u64::from(current.samples);
        }
        offset += current.len;
        if offset >= end {
            break;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::source::Source;
    use super::{properties, sub_block};

    fn block(total: u32, samples: u32, flags: u32, body: &[u8]) -> Vec<u8> {
        let mut block = b"wvpk".to_vec();
        block.extend((24 + body.len() as u32).to_le_bytes());
        block.extend([0x10, 0x04, 0, 0]);
        block.extend(total.to_le_bytes());
        block.extend(0u32.to_le_bytes());
        block.extend(samples.to_le_bytes());
        block.extend(flags.to_le_bytes());
        block.extend([0; 4]);
        block.extend(body);
        block
    }

    const STEREO_16_44K: u32 = 1 | 9 << 23 | 0x800 | 0x1000;

    #[test]
    fn properties_from_the_first_block() {
        type Want = Option<(u64, u32, u16, u16)>;
        #[rustfmt::skip]
        let cases: Vec<(Vec<u8>, Want)> = vec![
            (block(132_300, 100, STEREO_16_44K, &[]), Some((132_300, 44_100, 2, 16))),
            (block(132_300, 100, 2 | 4 | 10 << 23 | 0x1800, &[]), Some((132_300, 48_000, 1, 24))),
            (block(10, 10, 3 | 0x80 | 9 << 23 | 0x1800, &[]), Some((10, 44_100, 2, 32))),
            // A custom rate (index 15) in a sub-block: 0x27, 2 words, odd size, 3 bytes.
            (block(10, 10, 1 | 15 << 23 | 0x1800, &[0x67, 2, 0x40, 0x1f, 0, 0]), Some((10, 8_000, 2, 16))),
            // Channel info: 6 channels.
            (block(10, 10, STEREO_16_44K & !0x1000, &[0x0d, 1, 6, 0x3f]), Some((10, 44_100, 6, 16))),
            // Unknown total: the initial blocks' samples are summed.
            ([block(u32::MAX, 100, STEREO_16_44K, &[]), block(u32::MAX, 50, STEREO_16_44K, &[])].concat(), Some((150, 44_100, 2, 16))),
            (block(10, 10, STEREO_16_44K | 0x8000_0000, &[]), None),
            (b"wvpk\x01\0\0\0".to_vec(), None),
        ];
        for (file, want) in cases {
            let len = file.len() as u64;
            let got = properties(&mut Source::new(file, len)).ok();
            let got = got.map(super::super::summary);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn mono_and_stereo_blocks_of_a_frame_add_up() {
        let first = block(10, 10, 1 | 9 << 23 | 0x800, &[]);
        let second = block(10, 10, 1 | 4 | 9 << 23, &[]);
        let last = block(10, 10, 1 | 9 << 23 | 0x1000, &[]);
        let file = [first, second, last].concat();
        let len = file.len() as u64;
        assert_eq!(properties(&mut Source::new(file, len)).unwrap().channels, 5);
    }

    #[test]
    fn sub_blocks() {
        let body = [0x21, 1, 0xaa, 0xbb, 0x67, 2, 0x40, 0x1f, 0, 0, 0x8d, 1, 0, 0, 2, 0];
        assert_eq!(sub_block(&body, 0x27), Some(&[0x40, 0x1f, 0][..]));
        assert_eq!(sub_block(&body, 0x0d), Some(&[2, 0][..]));
        assert_eq!(sub_block(&body, 0x05), None);
        assert_eq!(sub_block(&[0x8d, 0xff, 0xff, 0xff], 0x0d), None);
    }
}
