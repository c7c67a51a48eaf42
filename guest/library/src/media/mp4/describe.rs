//! The sample description (`stsd`) of an audio track: the codec, and the sample rate,
//! channels and bit depth its decoder configuration gives (`esds`, `alac`, `dfLa`, `dOps`).

use super::super::source::{Bytes, ReadAt, Source};
use super::super::{Codec, Malformed, flac};
use super::{Atom, atom_at, child, children};

/// What the sample description says about the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Description {
    pub(super) codec: Codec,
    pub(super) sample_rate: u32,
    pub(super) channels: u16,
    pub(super) bits: Option<u16>,
}

/// The sample rate and channel count in an AudioSpecificConfig (ISO 14496-3 §1.6.2.1),
/// the output rate for HE-AAC with explicit SBR signalling.
pub fn audio_specific_config(config: &[u8]) -> Option<(u32, u16)> {
    const RATES: [u32; 13] = [
        96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025,
        8_000, 7_350,
    ];
    let mut bits = BitReader { bytes: config, pos: 0 };
    let mut object = bits.take(5)?;
    if object == 31 {
        object = 32 + bits.take(6)?;
    }
    let rate = |bits: &mut BitReader| match bits.take(4)? {
        15 => bits.take(24),
        index => RATES.get(index as usize).copied(),
    };
    let mut sample_rate = rate(&mut bits)?;
    let channels = match bits.take(4)? {
        7 => 8,
        n => n as u16,
    };
    if object == 5 || object == 29 {
        sample_rate = rate(&mut bits)?;
    }
    Some((sample_rate, channels))
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut value = 0;
        for _ in 0..n {
            let byte = self.bytes.get(self.pos / 8)?;
            value = value << 1 | u32::from(byte >> (7 - self.pos % 8) & 1);
            self.pos += 1;
        }
        Some(value)
    }
}

/// The object type and the DecoderSpecificInfo in an `esds` body (ISO 14496-1 §7.2.6).
pub fn esds(body: &[u8]) -> Option<(u8, &[u8])> {
    let mut at = 4;
    let mut object = None;
    while at < body.len() {
        let tag = *body.get(at)?;
        at += 1;
        let mut len = 0usize;
        for _ in 0..4 {
            let byte = *body.get(at)?;
            at += 1;
            len = len << 7 | usize::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                break;
            }
        }
        match tag {
            // ES_Descriptor: an id, flags, and optional fields before the nested ones.
            3 => {
                let flags = *body.get(at + 2)?;
                at += 3 + 2 * usize::from(flags & 0x80 != 0);
                if flags & 0x40 != 0 {
                    at += 1 + usize::from(*body.get(at)?);
                }
                at += 2 * usize::from(flags & 0x20 != 0);
            }
            // DecoderConfigDescriptor: 13 bytes, then the DecoderSpecificInfo.
            4 => {
                object = Some(*body.get(at)?);
                at += 13;
            }
            5 => return Some((object?, body.get(at..at.checked_add(len)?)?)),
            _ => at += len,
        }
    }
    object.map(|object| (object, &body[..0]))
}

pub(super) fn description<R: ReadAt>(
    source: &mut Source<R>,
    stbl: Atom,
) -> Result<Description, Malformed> {
    let stsd = child(source, stbl, b"stsd").ok_or(Malformed)?;
    let entry = atom_at(source, stsd.body + 8, stsd.end)?;
    let head = source.up_to(entry.body, 64);
    let version = head.u16_be(8).ok_or(Malformed)?;
    let channels = head.u16_be(16).ok_or(Malformed)?;
    let sample_rate = head.u32_be(24).ok_or(Malformed)? >> 16;
    let extensions = entry.body + [28, 44, 64][usize::from(version.min(2))];
    let inner = children(source, extensions.min(entry.end), entry.end);
    let mut read = |kind: &[u8; 4]| {
        let atom = inner.iter().find(|atom| &atom.kind == kind)?;
        Some(source.up_to(atom.body, atom.len().min(4096) as usize))
    };
    let mut found = Description { codec: Codec::Aac, sample_rate, channels, bits: None };
    match &entry.kind {
        b"mp4a" => {
            let descriptors = read(b"esds").ok_or(Malformed)?;
            let (object, config) = esds(&descriptors).ok_or(Malformed)?;
            found.codec = match object {
                0x40 | 0x66..=0x68 => Codec::Aac,
                0x69 | 0x6b => Codec::Mp3,
                _ => return Err(Malformed),
            };
            if let Some((rate, channels)) = audio_specific_config(config) {
                found.sample_rate = rate;
                if channels > 0 {
                    found.channels = channels;
                }
            }
        }
        b"alac" => {
            // The `alac` box in the entry: version and flags, then ALACSpecificConfig.
            let config = read(b"alac").ok_or(Malformed)?;
            found.codec = Codec::Alac;
            found.bits = Some(u16::from(*config.get(9).ok_or(Malformed)?));
            found.channels = u16::from(*config.get(13).ok_or(Malformed)?);
            found.sample_rate = config.u32_be(24).ok_or(Malformed)?;
        }
        b"fLaC" => {
            // `dfLa`: version and flags, then FLAC metadata blocks, STREAMINFO first.
            let blocks = read(b"dfLa").ok_or(Malformed)?;
            let (rate, channels, bits, _) =
                flac::streaminfo(blocks.get(8..).ok_or(Malformed)?).ok_or(Malformed)?;
            found =
                Description { codec: Codec::Flac, sample_rate: rate, channels, bits: Some(bits) };
        }
        b"Opus" => {
            let ops = read(b"dOps").ok_or(Malformed)?;
            found = Description {
                codec: Codec::Opus,
                sample_rate: 48_000,
                channels: u16::from(*ops.get(1).ok_or(Malformed)?),
                bits: None,
            };
        }
        _ => return Err(Malformed),
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{audio_specific_config, esds};

    #[test]
    fn audio_specific_configs() {
        type Want = Option<(u32, u16)>;
        #[rustfmt::skip]
        let cases: &[(&[u8], Want)] = &[
            (&[0x12, 0x08], Some((44_100, 1))),
            (&[0x12, 0x10], Some((44_100, 2))),
            (&[0x11, 0x90], Some((48_000, 2))),
            (&[0x13, 0x88], Some((22_050, 1))),
            (&[0x12, 0x38], Some((44_100, 8))),
            // HE-AAC: 22.05 kHz core, SBR to 44.1 kHz.
            (&[0x2b, 0x92, 0x08, 0x00], Some((44_100, 2))),
            // An explicit 24-bit rate.
            (&[0x17, 0x80, 0x3e, 0x80, 0x10], Some((32_000, 2))),
            (&[0x12], None),
            (&[], None),
        ];
        for &(config, want) in cases {
            assert_eq!(audio_specific_config(config), want, "{config:x?}");
        }
    }

    #[test]
    fn esds_descriptors() {
        // Version and flags; ES_Descriptor; DecoderConfigDescriptor (AAC); DecoderSpecificInfo.
        let body = [
            0, 0, 0, 0, 0x03, 0x19, 0, 1, 0, 0x04, 0x11, 0x40, 0x15, 0, 0, 0, 0, 1, 0xf4, 0, 0, 1,
            0xf4, 0, 0x05, 0x02, 0x12, 0x08, 0x06, 0x01, 0x02,
        ];
        assert_eq!(esds(&body), Some((0x40, &[0x12, 0x08][..])));
        // Lengths in the four-byte form ffmpeg writes.
        let long = [
            0, 0, 0, 0, 0x03, 0x80, 0x80, 0x80, 0x22, 0, 2, 0, 0x04, 0x80, 0x80, 0x80, 0x14, 0x6b,
            0x15, 0, 0, 0, 0, 1, 0xf4, 0, 0, 1, 0xf4, 0, 0x05, 0x80, 0x80, 0x80, 0x02, 0x11, 0x90,
        ];
        assert_eq!(esds(&long), Some((0x6b, &[0x11, 0x90][..])));
        assert_eq!(esds(&[0, 0, 0, 0, 0x03, 0x80]), None);
        assert_eq!(esds(&[]), None);
    }
}
