//! RIFF WAVE: `fmt ` and `data` for the properties, an `id3 ` chunk for pictures. lofty
//! reads the `LIST`/`INFO` and ID3 tags.

use super::picture::Picture;
use super::source::{Bytes, ReadAt, Source};
use super::{Codec, Malformed, Properties, id3v2, seconds};

/// Chunks read at most.
const MAX_CHUNKS: usize = 4096;
/// The format tags of PCM and IEEE float samples, and the one that defers to a GUID.
const PCM: u16 = 1;
const FLOAT: u16 = 3;
const EXTENSIBLE: u16 = 0xfffe;

/// A chunk: its id, where its body starts and its length (clamped to the file).
struct Chunk {
    id: [u8; 4],
    body: u64,
    len: u64,
}

fn chunks<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Chunk>, Malformed> {
    let head = source.array::<12>(0)?;
    if &head[..4] != b"RIFF" || &head[8..] != b"WAVE" {
        return Err(Malformed);
    }
    let mut found = Vec::new();
    let mut offset = 12u64;
    while found.len() < MAX_CHUNKS {
        let Ok(header) = source.array::<8>(offset) else { break };
        let body = offset + 8;
        // A `data` size of 0 or 0xFFFFFFFF is left by writers that never finished: the
        // samples run to the end of the file.
        let declared = u64::from(header.u32_le(4).ok_or(Malformed)?);
        let len = declared.min(source.len() - body);
        found.push(Chunk { id: [header[0], header[1], header[2], header[3]], body, len });
        // Chunks are padded to an even length.
        offset = body + declared + (declared & 1);
    }
    Ok(found)
}

/// The properties of a WAVE file of PCM or float samples.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let found = chunks(source)?;
    let fmt = found.iter().find(|chunk| &chunk.id == b"fmt ").ok_or(Malformed)?;
    let format = source.up_to(fmt.body, fmt.len.min(40) as usize);
    let mut tag = format.u16_le(0).ok_or(Malformed)?;
    if tag == EXTENSIBLE {
        // The sub-format GUID starts with the format tag it stands for.
        tag = format.u16_le(24).ok_or(Malformed)?;
    }
    if tag != PCM && tag != FLOAT {
        return Err(Malformed);
    }
    let channels = format.u16_le(2).ok_or(Malformed)?;
    let sample_rate = format.u32_le(4).ok_or(Malformed)?;
    let block_align = u64::from(format.u16_le(12).ok_or(Malformed)?);
    let container_bits = format.u16_le(14).ok_or(Malformed)?;
    // WAVE_FORMAT_EXTENSIBLE may say fewer bits are valid than the container holds.
    let bits = match format.u16_le(18) {
        Some(valid)
            if valid > 0 && valid <= container_bits && format.u16_le(0) == Some(EXTENSIBLE) =>
        {
            valid
        }
        _ => container_bits,
    };
    if channels == 0 || sample_rate == 0 || block_align == 0 {
        return Err(Malformed);
    }
    let data = found.iter().find(|chunk| &chunk.id == b"data").ok_or(Malformed)?;
    Ok(Properties {
        codec: Codec::Pcm,
        duration: seconds(data.len / block_align, sample_rate),
        audio_bytes: data.len,
        sample_rate,
        channels,
        bits_per_sample: Some(bits),
    })
}

/// The pictures of an `id3 ` (or `ID3 `) chunk.
pub fn pictures<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Picture>, Malformed> {
    let found = chunks(source)?;
    let Some(tag) = found.iter().find(|chunk| chunk.id.eq_ignore_ascii_case(b"id3 ")) else {
        return Ok(Vec::new());
    };
    id3v2::pictures(source, tag.body)
}

#[cfg(test)]
mod tests {
    use super::super::source::Source;
    use super::properties;

    fn wav(format: &[u8], data_declared: u32, data: usize) -> Vec<u8> {
        let mut file = b"RIFF\0\0\0\0WAVE".to_vec();
        file.extend(b"LIST\x03\0\0\0abc\0");
        file.extend(b"fmt ");
        file.extend((format.len() as u32).to_le_bytes());
        file.extend(format);
        file.extend(b"data");
        file.extend(data_declared.to_le_bytes());
        file.resize(file.len() + data, 0);
        file
    }

    fn format(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut format = tag.to_le_bytes().to_vec();
        format.extend(channels.to_le_bytes());
        format.extend(rate.to_le_bytes());
        format.extend((rate * u32::from(align)).to_le_bytes());
        format.extend(align.to_le_bytes());
        format.extend(bits.to_le_bytes());
        format
    }

    #[test]
    fn pcm_and_float_properties() {
        // (format, declared data size, data bytes, (samples, rate, channels, bits)).
        let mut extensible = format(0xfffe, 2, 48_000, 24);
        extensible.extend(22u16.to_le_bytes());
        extensible.extend(20u16.to_le_bytes());
        extensible.extend(3u32.to_le_bytes());
        extensible.extend([1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]);
        type Want = Option<(u64, u32, u16, u16)>;
        #[rustfmt::skip]
        let cases: Vec<(Vec<u8>, u32, usize, Want)> = vec![
            (format(1, 1, 44_100, 16), 88_200, 88_200, Some((44_100, 44_100, 1, 16))),
            (format(3, 1, 44_100, 32), 176_400, 176_400, Some((44_100, 44_100, 1, 32))),
            (extensible, 60, 60, Some((10, 48_000, 2, 20))),
            (format(1, 2, 44_100, 16), u32::MAX, 400, Some((100, 44_100, 2, 16))),
            (format(1, 2, 44_100, 16), 1000, 400, Some((100, 44_100, 2, 16))),
            (format(0x55, 2, 44_100, 0), 100, 100, None),
            (format(1, 0, 44_100, 16), 100, 100, None),
            (vec![1, 0], 100, 100, None),
        ];
        for (format, declared, data, want) in cases {
            let file = wav(&format, declared, data);
            let len = file.len() as u64;
            let got = properties(&mut Source::new(file, len)).ok();
            let got = got.map(super::super::summary);
            assert_eq!(got, want, "{format:x?} {declared}");
        }
    }

    #[test]
    fn not_wave_is_malformed() {
        for file in [b"RIFF\0\0\0\0AVI ".to_vec(), b"RIFF".to_vec(), b"RIFF\0\0\0\0WAVE".to_vec()] {
            let len = file.len() as u64;
            assert!(properties(&mut Source::new(file, len)).is_err());
        }
    }
}
