//! Native FLAC: the metadata blocks before the frames (STREAMINFO for the properties,
//! PICTURE for covers). lofty reads the VORBIS_COMMENT block.

use super::picture::{Body, Picture};
use super::source::{Bytes, ReadAt, Source};
use super::{Codec, Malformed, Properties, ape, id3v2, seconds};

/// Metadata blocks read at most.
const MAX_BLOCKS: usize = 1024;
/// Block types.
const STREAMINFO: u8 = 0;
const PICTURE: u8 = 6;

/// The sample rate, channels, bits per sample and total samples of a STREAMINFO block's
/// 34 bytes (FLAC format §8.2); total samples 0 means unknown.
pub fn streaminfo(block: &[u8]) -> Option<(u32, u16, u16, u64)> {
    let packed = block.u64_be(10)?;
    let sample_rate = (packed >> 44) as u32;
    let channels = ((packed >> 41) & 7) as u16 + 1;
    let bits = ((packed >> 36) & 31) as u16 + 1;
    let total = packed & 0xf_ffff_ffff;
    Some((sample_rate, channels, bits, total))
}

/// A metadata block: its type, where its body starts and how long it is.
struct Block {
    kind: u8,
    body: u64,
    len: u64,
}

/// The metadata blocks of the stream whose `fLaC` is at `start`, and where the frames begin.
fn blocks<R: ReadAt>(source: &mut Source<R>, start: u64) -> Result<(Vec<Block>, u64), Malformed> {
    if &source.array::<4>(start)? != b"fLaC" {
        return Err(Malformed);
    }
    let mut found = Vec::new();
    let mut offset = start + 4;
    for _ in 0..MAX_BLOCKS {
        let header = source.array::<4>(offset)?;
        let len = u64::from(u32::from_be_bytes(header) & 0x00ff_ffff);
        let body = offset + 4;
        if body + len > source.len() {
            return Err(Malformed);
        }
        found.push(Block { kind: header[0] & 0x7f, body, len });
        offset = body + len;
        if header[0] & 0x80 != 0 {
            return Ok((found, offset));
        }
    }
    Err(Malformed)
}

/// The properties of a native FLAC file.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let start = id3v2::leading_tags_len(source);
    let (found, frames) = blocks(source, start)?;
    let info = found
        .first()
        .filter(|block| block.kind == STREAMINFO && block.len >= 34)
        .ok_or(Malformed)?;
    let body = source.array::<34>(info.body)?;
    let (sample_rate, channels, bits, total) = streaminfo(&body).ok_or(Malformed)?;
    if sample_rate == 0 {
        return Err(Malformed);
    }
    let end = ape::audio_end(source).max(frames);
    Ok(Properties {
        codec: Codec::Flac,
        duration: if total > 0 { seconds(total, sample_rate) } else { None },
        audio_bytes: end - frames,
        sample_rate,
        channels,
        bits_per_sample: Some(bits),
    })
}

/// Where the image starts in a FLAC picture structure (also the decoded value of an Ogg
/// `METADATA_BLOCK_PICTURE` comment), its length, and whether it is the front cover.
pub fn split_picture(block: &[u8]) -> Option<(usize, u64, bool)> {
    let kind = block.u32_be(0)?;
    let mime_len = block.u32_be(4)? as usize;
    let description = 8usize.checked_add(mime_len)?;
    let description_len = block.u32_be(description)? as usize;
    // Width, height, depth and colours, 4 bytes each, then the data length.
    let data_len_at = description.checked_add(4)?.checked_add(description_len)?.checked_add(16)?;
    let data_len = u64::from(block.u32_be(data_len_at)?);
    Some((data_len_at + 4, data_len, kind == 3))
}

/// The PICTURE blocks.
pub fn pictures<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Picture>, Malformed> {
    let start = id3v2::leading_tags_len(source);
    let (found, _) = blocks(source, start)?;
    let mut pictures = Vec::new();
    for block in found.iter().filter(|block| block.kind == PICTURE) {
        // The MIME type and the description come before the image; 64 KiB covers them.
        let head = source.up_to(block.body, block.len.min(64 * 1024) as usize);
        let Some((image, len, front)) = split_picture(&head) else { continue };
        if len > 0 && image as u64 + len <= block.len {
            pictures.push(Picture {
                front,
                body: Body::Span { offset: block.body + image as u64, len },
            });
        }
    }
    Ok(pictures)
}

#[cfg(test)]
mod tests {
    use super::super::picture::Body;
    use super::super::source::Source;
    use super::{pictures, properties, split_picture, streaminfo};

    /// STREAMINFO for 44.1 kHz, 2 channels, 16 bits, `total` samples.
    fn info(total: u64) -> Vec<u8> {
        let mut block = vec![0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0];
        let packed = 44_100u64 << 44 | 1 << 41 | 15 << 36 | total;
        block.extend(packed.to_be_bytes());
        block.extend([0; 16]);
        block
    }

    fn block(kind: u8, last: bool, body: &[u8]) -> Vec<u8> {
        let mut block = vec![kind | if last { 0x80 } else { 0 }];
        block.extend(&(body.len() as u32).to_be_bytes()[1..]);
        block.extend(body);
        block
    }

    fn picture(kind: u32, image: &[u8]) -> Vec<u8> {
        let mut body = kind.to_be_bytes().to_vec();
        body.extend(10u32.to_be_bytes());
        body.extend(b"image/jpeg");
        body.extend(4u32.to_be_bytes());
        body.extend(b"desc");
        body.extend([0; 16]);
        body.extend((image.len() as u32).to_be_bytes());
        body.extend(image);
        body
    }

    #[test]
    fn streaminfo_fields() {
        assert_eq!(streaminfo(&info(132_300)), Some((44_100, 2, 16, 132_300)));
        assert_eq!(streaminfo(&info(0xf_ffff_ffff)), Some((44_100, 2, 16, 0xf_ffff_ffff)));
        assert_eq!(streaminfo(&[0; 17]), None);
    }

    #[test]
    fn properties_and_pictures_from_blocks() {
        let mut file = b"fLaC".to_vec();
        file.extend(block(0, false, &info(132_300)));
        file.extend(block(6, false, &picture(4, b"BACK")));
        file.extend(block(6, true, &picture(3, b"FRONT")));
        let frames = file.len() as u64;
        file.extend([0xff, 0xf8, 0, 0, 0, 0, 0, 0, 0, 0]);
        let len = file.len() as u64;
        let mut source = Source::new(file.clone(), len);
        let got = properties(&mut source).unwrap();
        assert_eq!(got.duration, Some(3.0));
        assert_eq!(got.audio_bytes, len - frames);
        assert_eq!((got.sample_rate, got.channels, got.bits_per_sample), (44_100, 2, Some(16)));
        let found = pictures(&mut source).unwrap();
        let images: Vec<_> = found
            .iter()
            .map(|p| match p.body {
                Body::Span { offset, len } => {
                    (p.front, &file[offset as usize..(offset + len) as usize])
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(images, vec![(false, &b"BACK"[..]), (true, &b"FRONT"[..])]);
    }

    #[test]
    fn broken_block_chains_are_malformed() {
        let cut = [b"fLaC".to_vec(), block(0, false, &info(1))].concat();
        let mut oversized = [b"fLaC".to_vec(), block(0, true, &info(1))].concat();
        oversized[7] = 0xff;
        let no_info = [b"fLaC".to_vec(), block(4, true, b"x")].concat();
        for file in [cut, oversized, no_info, b"fLa".to_vec()] {
            let len = file.len() as u64;
            assert!(properties(&mut Source::new(file, len)).is_err());
        }
    }

    #[test]
    fn picture_structures_out_of_bounds_are_refused() {
        let mut huge_mime = picture(3, b"x");
        huge_mime[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(split_picture(&huge_mime), None);
        assert_eq!(split_picture(&picture(3, b"IMG")), Some((46, 3, true)));
    }
}
