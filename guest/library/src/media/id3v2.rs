//! ID3v2 (2.2, 2.3, 2.4) headers and attached pictures (`PIC`, `APIC`); lofty reads the
//! text frames. Pictures are located rather than read, so a listing can tell there is one
//! without holding it, and the cover is sent as a span of the file where it is stored raw.

use super::picture::{Body, Picture};
use super::source::{Bytes, ReadAt, Source};
use super::{MAX_READ, Malformed};

/// Bytes of a tag header (and of a v2.4 footer).
const HEADER_LEN: u64 = 10;
/// Frames read from one tag at most: a tag of empty frames must not spin.
const MAX_FRAMES: usize = 4096;
/// Bytes of an `APIC` frame read to find where its image starts: the MIME type and the
/// description come first, and a longer description is not worth honouring.
const PICTURE_HEAD: usize = 4096;
/// Pictures of a tag located at most: each one past the first few only costs work.
const MAX_PICTURES: usize = 16;
/// Tags in a row skipped at the start of a file: some taggers prepend one to another.
const MAX_LEADING_TAGS: usize = 8;

/// What the 10-byte header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 2, 3 or 4.
    pub major: u8,
    /// The header flags.
    pub flags: u8,
    /// The size of what follows the header, footer excluded.
    pub size: u32,
}

impl Header {
    /// The header in `bytes`, if they are one.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let [b'I', b'D', b'3', major @ 2..=4, revision, flags, size @ ..] = bytes.get(..10)? else {
            return None;
        };
        if *revision == 0xff || size.iter().any(|&b| b >= 0x80) {
            return None;
        }
        Some(Self { major: *major, flags: *flags, size: syncsafe(size) })
    }

    /// The length of the whole tag: header, body and any v2.4 footer.
    pub fn tag_len(&self) -> u64 {
        let footer = if self.major == 4 && self.flags & 0x10 != 0 { HEADER_LEN } else { 0 };
        HEADER_LEN + u64::from(self.size) + footer
    }

    /// Whether the whole tag is unsynchronised (for 2.4, every frame is).
    fn unsynchronised(&self) -> bool {
        self.flags & 0x80 != 0
    }
}

/// A 28-bit integer stored 7 bits a byte.
fn syncsafe(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |n, &b| n << 7 | u32::from(b & 0x7f))
}

/// The length of the ID3v2 tags at the start of the file, 0 if there are none.
pub fn leading_tags_len<R: ReadAt>(source: &mut Source<R>) -> u64 {
    let mut offset = 0;
    for _ in 0..MAX_LEADING_TAGS {
        let Some(header) = Header::parse(&source.up_to(offset, 10)) else { break };
        offset += header.tag_len();
    }
    offset.min(source.len())
}

/// Undoes unsynchronisation, in place: each `FF 00` was an `FF`.
pub fn resynchronise(mut bytes: Vec<u8>) -> Vec<u8> {
    let mut kept = 0;
    let mut after_ff = false;
    for i in 0..bytes.len() {
        let b = bytes[i];
        if !(after_ff && b == 0) {
            bytes[kept] = b;
            kept += 1;
        }
        after_ff = b == 0xff;
    }
    bytes.truncate(kept);
    bytes
}

/// The image of a picture stored unsynchronised (see [`Body::Unsynchronised`]).
pub fn unsynchronised_image<R: ReadAt>(
    source: &mut Source<R>,
    offset: u64,
    len: u64,
    skip: u64,
    image_len: u64,
) -> Option<Vec<u8>> {
    let mut decoded = resynchronise(source.vec_at(offset, len, MAX_READ).ok()?);
    let start = usize::try_from(skip).ok()?;
    let end = start.checked_add(usize::try_from(image_len).ok()?)?;
    if end > decoded.len() {
        return None;
    }
    decoded.truncate(end);
    decoded.drain(..start);
    Some(decoded)
}

/// Where the bytes of a tag's frames are read from.
enum Frames<'a, R> {
    /// The file, at absolute offsets.
    File(&'a mut Source<R>),
    /// A whole tag body resynchronised, at offsets within it; it was stored as `len` bytes
    /// at `offset` of the file.
    Decoded { bytes: &'a [u8], offset: u64, len: u64 },
}

impl<R: ReadAt> Frames<'_, R> {
    fn read(&mut self, offset: u64, len: usize) -> Vec<u8> {
        match self {
            Self::File(source) => source.up_to(offset, len),
            Self::Decoded { bytes, .. } => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                bytes[start..bytes.len().min(start.saturating_add(len))].to_vec()
            }
        }
    }
}

/// The pictures of the ID3v2 tag at `offset` (0 for an MP3; inside a chunk for WAV).
pub fn pictures<R: ReadAt>(source: &mut Source<R>, offset: u64) -> Result<Vec<Picture>, Malformed> {
    let header = Header::parse(&source.up_to(offset, 10)).ok_or(Malformed)?;
    let body_start = offset + HEADER_LEN;
    let body_end = (body_start + u64::from(header.size)).min(source.len());
    // 2.2 defines compression of the whole tag but no way to undo it.
    if header.major == 2 && header.flags & 0x40 != 0 {
        return Ok(Vec::new());
    }
    if header.unsynchronised() && header.major < 4 {
        // Frame headers are unsynchronised too, so the whole tag is decoded first.
        let len = body_end - body_start;
        let decoded = resynchronise(source.vec_at(body_start, len, MAX_READ)?);
        let end = decoded.len() as u64;
        let mut frames: Frames<R> = Frames::Decoded { bytes: &decoded, offset: body_start, len };
        return Ok(walk(&mut frames, header, 0, end));
    }
    Ok(walk(&mut Frames::File(source), header, body_start, body_end))
}

/// A frame's header.
struct FrameHeader {
    id: [u8; 4],
    size: u64,
    /// The format flags (the second flag byte; 0 for 2.2).
    format: u8,
    len: u64,
}

fn frame_header(major: u8, bytes: &[u8]) -> Option<FrameHeader> {
    let id_len = if major == 2 { 3 } else { 4 };
    let id = bytes.get(..id_len)?;
    if !id.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return None;
    }
    let mut padded = [b' '; 4];
    padded[..id_len].copy_from_slice(id);
    let (size, format, len) = match major {
        2 => (u64::from(bytes.u32_be(2)? & 0x00ff_ffff), 0, 6),
        3 => (u64::from(bytes.u32_be(4)?), *bytes.get(9)?, 10),
        _ => {
            let raw = bytes.get(4..8)?;
            // iTunes wrote 2.4 sizes as plain integers; a byte with its top bit set says so.
            let size =
                if raw.iter().all(|&b| b < 0x80) { syncsafe(raw) } else { bytes.u32_be(4)? };
            (u64::from(size), *bytes.get(9)?, 10)
        }
    };
    Some(FrameHeader { id: padded, size, format, len })
}

/// The pictures among the frames between `start` and `end`.
fn walk<R: ReadAt>(
    frames: &mut Frames<'_, R>,
    header: Header,
    start: u64,
    end: u64,
) -> Vec<Picture> {
    let mut found = Vec::new();
    let mut offset = start;
    if header.flags & 0x40 != 0 && header.major >= 3 {
        let Some(size) = frames.read(offset, 4).u32_be(0) else { return found };
        // 2.3 counts the bytes after the size field; 2.4 counts all, in syncsafe form.
        offset += if header.major == 3 {
            4 + u64::from(size)
        } else {
            u64::from(syncsafe(&size.to_be_bytes()))
        };
    }
    for _ in 0..MAX_FRAMES {
        let Some(frame) = frame_header(header.major, &frames.read(offset, 10)) else { break };
        let data = offset + frame.len;
        let Some(data_end) = data.checked_add(frame.size).filter(|&data_end| data_end <= end)
        else {
            break;
        };
        if matches!(&frame.id, b"APIC" | b"PIC ") && found.len() < MAX_PICTURES {
            found.extend(picture(frames, header, &frame, data));
        }
        offset = data_end;
    }
    found
}

/// The picture of the `PIC`/`APIC` frame whose data starts at `data`.
fn picture<R: ReadAt>(
    frames: &mut Frames<'_, R>,
    header: Header,
    frame: &FrameHeader,
    data: u64,
) -> Option<Picture> {
    let (mut skip, unsynchronised) = match header.major {
        // 2.3 format flags: compression (80), encryption (40), grouping (20, one byte).
        3 if frame.format & 0xc0 != 0 => return None,
        3 => (u64::from(frame.format & 0x20 != 0), false),
        // 2.4: grouping (40, one byte), compression (08), encryption (04),
        // unsynchronisation (02), data length indicator (01, four bytes).
        4 if frame.format & 0x0c != 0 => return None,
        4 => {
            let skip =
                u64::from(frame.format & 0x40 != 0) + 4 * u64::from(frame.format & 0x01 != 0);
            (skip, frame.format & 0x02 != 0 || header.unsynchronised())
        }
        _ => (0, false),
    };
    skip = skip.min(frame.size);
    let (start, len) = (data + skip, frame.size - skip);
    if unsynchronised {
        // The frame is decoded to find where its image starts, then let go: a listing keeps
        // only where the picture is, however many a tag holds.
        let raw = frames.read(start, usize::try_from(len).ok().filter(|&len| len <= MAX_READ)?);
        let decoded = resynchronise(raw);
        let (image, front) = split_picture(header.major, &decoded)?;
        let image_len = (decoded.len() - image) as u64;
        let body = Body::Unsynchronised { offset: start, len, skip: image as u64, image_len };
        return Some(Picture { front, body });
    }
    let head = frames.read(start, PICTURE_HEAD.min(usize::try_from(len).unwrap_or(usize::MAX)));
    let (image, front) = split_picture(header.major, &head)?;
    let (image, image_len) = (start + image as u64, len - image as u64);
    let body = match *frames {
        Frames::File(_) => Body::Span { offset: image, len: image_len },
        Frames::Decoded { offset, len, .. } => {
            Body::Unsynchronised { offset, len, skip: image, image_len }
        }
    };
    Some(Picture { front, body })
}

/// Where the image starts in the body of a `PIC`/`APIC` frame, and whether it is the
/// front cover; `None` for a link (`-->`) or a body too short to hold one.
pub fn split_picture(major: u8, body: &[u8]) -> Option<(usize, bool)> {
    let encoding = *body.first()?;
    let mut at = 1;
    if major == 2 {
        // A three-letter image format instead of a MIME type.
        at += 3;
    } else {
        let mime_len = body.get(at..)?.iter().position(|&b| b == 0)?;
        if body.get(at..at + mime_len)? == b"-->" {
            return None;
        }
        at += mime_len + 1;
    }
    let kind = *body.get(at)?;
    at += 1;
    at += text_len(encoding, body.get(at..)?)?;
    (at < body.len()).then_some((at, kind == 3))
}

/// The length of a terminated string in `encoding`, terminator included: one NUL for
/// ISO-8859-1 and UTF-8, two aligned NULs for UTF-16.
fn text_len(encoding: u8, bytes: &[u8]) -> Option<usize> {
    match encoding {
        1 | 2 => bytes.chunks_exact(2).position(|pair| pair == [0, 0]).map(|i| 2 * i + 2),
        _ => bytes.iter().position(|&b| b == 0).map(|i| i + 1),
    }
}

/// A tag of version `major` with header `flags` around `frames`, for tests.
#[cfg(test)]
pub(crate) fn tag(major: u8, flags: u8, frames: &[u8]) -> Vec<u8> {
    let size = frames.len() as u32;
    let mut tag = vec![b'I', b'D', b'3', major, 0, flags];
    tag.extend([21, 14, 7, 0].map(|shift| (size >> shift) as u8 & 0x7f));
    tag.extend(frames);
    tag
}

#[cfg(test)]
mod tests {
    use super::super::picture::Body;
    use super::super::source::Source;
    use super::{
        Header, leading_tags_len, pictures, resynchronise, split_picture, tag, unsynchronised_image,
    };

    #[test]
    fn headers() {
        type Want = Option<(u8, u32, u64)>;
        #[rustfmt::skip]
        let cases: &[(&[u8], Want)] = &[
            (b"ID3\x03\x00\x00\x00\x00\x02\x01", Some((3, 257, 267))),
            (b"ID3\x04\x00\x10\x00\x00\x00\x0a", Some((4, 10, 30))),
            (b"ID3\x02\x00\x00\x7f\x7f\x7f\x7f", Some((2, 0x0fff_ffff, 0x0fff_ffff + 10))),
            (b"ID3\x03\x00\x00\x00\x00\x80\x00", None),
            (b"ID3\x05\x00\x00\x00\x00\x00\x00", None),
            (b"ID3\x03\xff\x00\x00\x00\x00\x00", None),
            (b"ID3\x03\x00\x00\x00", None),
            (b"TAG\x03\x00\x00\x00\x00\x00\x00", None),
        ];
        for &(bytes, want) in cases {
            let got = Header::parse(bytes).map(|h| (h.major, h.size, h.tag_len()));
            assert_eq!(got, want, "{bytes:?}");
        }
    }

    #[test]
    fn leading_tags_are_skipped_in_a_row_and_clamped_to_the_file() {
        let mut file = b"ID3\x03\x00\x00\x00\x00\x00\x02ab".to_vec();
        file.extend(b"ID3\x04\x00\x00\x00\x00\x00\x01x\xff\xfb");
        let len = file.len() as u64;
        assert_eq!(leading_tags_len(&mut Source::new(file, len)), 23);
        let cut = b"ID3\x03\x00\x00\x00\x00\x7f\x7f".to_vec();
        assert_eq!(leading_tags_len(&mut Source::new(cut, 10)), 10);
    }

    #[test]
    fn resynchronisation_drops_the_zero_after_ff() {
        assert_eq!(
            resynchronise(b"\xff\x00\xe0\xff\x00\x00\x01".to_vec()),
            b"\xff\xe0\xff\x00\x01"
        );
        assert_eq!(resynchronise(b"\xff".to_vec()), b"\xff");
    }

    #[test]
    fn picture_bodies() {
        type Want = Option<(usize, bool)>;
        #[rustfmt::skip]
        let cases: &[(u8, &[u8], Want)] = &[
            (3, b"\x00image/jpeg\x00\x03desc\x00IMG", Some((18, true))),
            (3, b"\x00image/png\x00\x04\x00IMG", Some((13, false))),
            (3, b"\x01image/jpeg\x00\x03\xff\xfed\x00\x00\x00IMG", Some((19, true))),
            (4, b"\x03\x00\x03\x00IMG", Some((4, true))),
            (2, b"\x00PNG\x03\x00IMG", Some((6, true))),
            (2, b"\x01JPG\x03\xff\xfeA\x00\x00\x00IMG", Some((11, true))),
            (3, b"\x00-->\x00\x03\x00http://x", None),
            (3, b"\x00image/jpeg\x00\x03no end", None),
            (3, b"\x00image/jpeg\x00\x03\x00", None),
            (3, b"", None),
        ];
        for &(major, body, want) in cases {
            assert_eq!(split_picture(major, body), want, "{body:?}");
        }
    }

    fn frame(id: &[u8], flags: [u8; 2], body: &[u8]) -> Vec<u8> {
        let mut frame = id.to_vec();
        frame.extend((body.len() as u32).to_be_bytes());
        frame.extend(flags);
        frame.extend(body);
        frame
    }

    #[test]
    fn pictures_are_spans_unless_unsynchronised() {
        let apic = b"\x00image/png\x00\x03\x00\xff\xd8\xff";
        let frames = [frame(b"TIT2", [0, 0], b"\x00title"), frame(b"APIC", [0, 0], apic)].concat();
        let file = tag(3, 0, &frames);
        let len = file.len() as u64;
        let found = pictures(&mut Source::new(file, len), 0).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].front);
        assert_eq!(found[0].body, Body::Span { offset: len - 3, len: 3 });

        // Unsynchronised whole (2.3): frame sizes count the decoded bytes, and the image
        // comes back decoded.
        let mut unsynchronised = frame(b"APIC", [0, 0], apic);
        unsynchronised.truncate(unsynchronised.len() - 3);
        unsynchronised.extend(b"\xff\x00\xd8\xff\x00");
        let file = tag(3, 0x80, &unsynchronised);
        let len = file.len() as u64;
        let mut source = Source::new(file, len);
        let found = pictures(&mut source, 0).unwrap();
        let Body::Unsynchronised { offset, len, skip, image_len } = found[0].body else {
            panic!("{found:?}")
        };
        let image = unsynchronised_image(&mut source, offset, len, skip, image_len);
        assert_eq!(image.as_deref(), Some(&b"\xff\xd8\xff"[..]));
    }

    #[test]
    fn frames_past_the_tag_or_compressed_are_not_pictures() {
        let mut oversized = frame(b"APIC", [0, 0], b"\x00image/png\x00\x03\x00IMG");
        oversized[7] = 200;
        let compressed = frame(b"APIC", [0, 0x80], b"\x00\x00\x00\x05x\x9c");
        for frames in [oversized, compressed] {
            let file = tag(3, 0, &frames);
            let len = file.len() as u64;
            assert_eq!(pictures(&mut Source::new(file, len), 0).unwrap(), vec![]);
        }
        assert!(pictures(&mut Source::new(b"ID3".to_vec(), 3), 0).is_err());
    }
}
