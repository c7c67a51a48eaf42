//! The comment packet of an Ogg stream: tags, and `METADATA_BLOCK_PICTURE` covers.
//!
//! The comments are read here rather than by lofty, which holds the whole comment packet in
//! memory: a picture of 20 MB there would cost all the tags (lofty's allocation limit) or
//! most of the instance's memory. Here each comment is visited where it lies, and values
//! are read only when short.

use super::super::picture::{Body, Picture};
use super::super::source::{Bytes, ReadAt, Source};
use super::super::tags::{Field, Tags};
use super::super::{Codec, MAX_READ, Malformed, flac};
use super::{Packet, headers, identify};

/// Comments read at most.
const MAX_COMMENTS: u32 = 65_536;
/// The key of a picture comment.
const PICTURE_KEY: &[u8] = b"METADATA_BLOCK_PICTURE";
/// Bytes of a key read at most; a longer one is not a key the API reads.
const MAX_KEY: usize = 32;
/// Bytes of a text value read at most.
const MAX_VALUE: u64 = 64 * 1024;
/// Bytes of base64 read at once when decoding a picture.
const DECODE_PIECE: usize = 64 * 1024;

/// The comment packet: the second packet for Vorbis and Opus, and for FLAC too, where it
/// is a VORBIS_COMMENT block. Its comments start after `skip` bytes of codec header.
fn comment_packet<R: ReadAt>(source: &mut Source<R>) -> Result<(Packet, u64), Malformed> {
    let found = headers(source, 2)?;
    let id = found.packets[0].bytes(source, 0, 16);
    let skip = match identify(&id).ok_or(Malformed)?.0 {
        Codec::Vorbis => 7,
        Codec::Opus => 8,
        _ => 4,
    };
    let packet = found.packets.into_iter().nth(1).ok_or(Malformed)?;
    Ok((packet, skip))
}

/// A comment: its key, and where its value lies in the comment packet.
struct Comment {
    key: Vec<u8>,
    value: u64,
    len: u64,
}

/// The comments of the comment packet (a vendor string, a count, then `KEY=value`s, each
/// after its length), and the packet.
fn comments<R: ReadAt>(source: &mut Source<R>) -> Result<(Packet, Vec<Comment>), Malformed> {
    let (packet, skip) = comment_packet(source)?;
    let total = packet.len();
    let vendor = packet.bytes(source, skip, 4).u32_le(0).ok_or(Malformed)?;
    let mut pos = skip + 4 + u64::from(vendor);
    let count = packet.bytes(source, pos, 4).u32_le(0).ok_or(Malformed)?;
    pos += 4;
    let mut found = Vec::new();
    for _ in 0..count.min(MAX_COMMENTS) {
        let Some(len) = packet.bytes(source, pos, 4).u32_le(0) else { break };
        let comment = pos + 4;
        let Some(end) = comment.checked_add(u64::from(len)).filter(|&end| end <= total) else {
            break;
        };
        let head = packet.bytes(source, comment, MAX_KEY.min(len as usize));
        if let Some(equals) = head.iter().position(|&b| b == b'=') {
            let value = comment + equals as u64 + 1;
            found.push(Comment { key: head[..equals].to_vec(), value, len: end - value });
        }
        pos = end;
    }
    Ok((packet, found))
}

/// The field a Vorbis comment key names, as the common taggers write them.
pub fn field(key: &[u8]) -> Option<Field> {
    let key = std::str::from_utf8(key).ok()?.to_ascii_uppercase();
    Some(match key.as_str() {
        "TITLE" => Field::Title,
        "ARTIST" => Field::Artist,
        "ALBUM" => Field::Album,
        "ALBUMARTIST" | "ALBUM ARTIST" | "ALBUM_ARTIST" => Field::AlbumArtist,
        "TRACKNUMBER" => Field::Track,
        "TRACKTOTAL" | "TOTALTRACKS" => Field::TrackTotal,
        "DISCNUMBER" => Field::Disc,
        "DISCTOTAL" | "TOTALDISCS" => Field::DiscTotal,
        "DATE" | "YEAR" | "ORIGINALDATE" => Field::Year,
        "GENRE" => Field::Genre,
        _ => return None,
    })
}

/// The tags in the comments.
pub fn tags<R: ReadAt>(source: &mut Source<R>) -> Result<Tags, Malformed> {
    let (packet, found) = comments(source)?;
    let mut tags = Tags::default();
    for comment in found {
        if let Some(field) = field(&comment.key)
            && comment.len <= MAX_VALUE
        {
            let value = packet.bytes(source, comment.value, comment.len as usize);
            tags.fill(field, &String::from_utf8_lossy(&value));
        }
    }
    Ok(tags)
}

/// The `METADATA_BLOCK_PICTURE` comments, as positions in the comment packet: listing a
/// directory only asks whether there is one, so nothing is decoded but the picture type.
pub fn pictures<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Picture>, Malformed> {
    let (packet, found) = comments(source)?;
    let mut pictures = Vec::new();
    for comment in found.into_iter().filter(|comment| comment.key.eq_ignore_ascii_case(PICTURE_KEY))
    {
        // The first 8 base64 characters hold the 4-byte picture type.
        let head = packet.bytes(source, comment.value, 8);
        let front = decode_base64(&head).and_then(|head| head.u32_be(0)) == Some(3);
        pictures.push(Picture {
            front,
            body: Body::OggComment { offset: comment.value, len: comment.len },
        });
    }
    Ok(pictures)
}

/// The image of the picture comment at `offset` in the comment packet: its base64
/// decoded a piece at a time (so only the decoded picture is held, never the text too),
/// then the FLAC picture structure's data.
pub fn picture_bytes<R: ReadAt>(source: &mut Source<R>, offset: u64, len: u64) -> Option<Vec<u8>> {
    let (packet, _) = comment_packet(source).ok()?;
    let decoded_len = usize::try_from(len / 4 * 3).ok().filter(|&decoded| decoded <= MAX_READ)?;
    let mut block = Vec::with_capacity(decoded_len + 2);
    let mut decoder = Base64::default();
    let mut pos = offset;
    while pos < offset + len {
        let piece = packet.bytes(source, pos, DECODE_PIECE.min((offset + len - pos) as usize));
        if piece.is_empty() {
            return None;
        }
        decoder.feed(&piece, &mut block)?;
        pos += piece.len() as u64;
    }
    let (image, image_len, _) = flac::split_picture(&block)?;
    let end = image.checked_add(usize::try_from(image_len).ok()?)?;
    if end > block.len() {
        return None;
    }
    block.truncate(end);
    block.drain(..image);
    Some(block)
}

/// Standard base64 (RFC 4648 §4), padding optional; `None` on any other character.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    Base64::default().feed(text, &mut out)?;
    Some(out)
}

/// A base64 decoder fed a piece at a time.
#[derive(Debug, Default)]
pub(super) struct Base64 {
    /// Bits decoded but not yet written out, in the low `count` bits.
    bits: u32,
    count: u32,
    /// Whether padding (`=`) was seen: only more padding may follow.
    padded: bool,
}

impl Base64 {
    /// Decodes `text` onto `out`; `None` on a character that is not base64.
    pub(super) fn feed(&mut self, mut text: &[u8], out: &mut Vec<u8>) -> Option<()> {
        // A picture is millions of characters: whole groups of four, while nothing is left
        // over from the last piece, make three bytes at once, written in place.
        if self.count == 0 && !self.padded {
            let start = out.len();
            out.resize(start + text.len() / 4 * 3, 0);
            let mut groups = 0;
            for (quad, bytes) in text.chunks_exact(4).zip(out[start..].chunks_exact_mut(3)) {
                let values = [0, 1, 2, 3].map(|i| BASE64_VALUES[usize::from(quad[i])]);
                if values.iter().any(|&value| value >= PAD) {
                    break;
                }
                let n = values.iter().fold(0u32, |n, &value| n << 6 | u32::from(value));
                bytes.copy_from_slice(&n.to_be_bytes()[1..]);
                groups += 1;
            }
            out.truncate(start + groups * 3);
            text = &text[groups * 4..];
        }
        for &c in text {
            let value = BASE64_VALUES[usize::from(c)];
            if value == PAD {
                self.padded = true;
                continue;
            }
            if value == INVALID || self.padded {
                return None;
            }
            self.bits = (self.bits << 6 | u32::from(value)) & 0xffff;
            self.count += 6;
            if self.count >= 8 {
                self.count -= 8;
                out.push((self.bits >> self.count) as u8);
            }
        }
        Some(())
    }
}

/// Markers in [`BASE64_VALUES`].
const PAD: u8 = 64;
const INVALID: u8 = 255;

/// The value of each byte as a base64 character.
const BASE64_VALUES: [u8; 256] = {
    let mut values = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < alphabet.len() {
        values[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    values[b'=' as usize] = PAD;
    values
};
