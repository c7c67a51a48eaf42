//! The tags that end a file: APEv2 (WavPack's tags, sometimes MP3's), ID3v1 and Lyrics3v2.
//! lofty reads their text; this finds where the audio ends before them and the pictures an
//! APEv2 tag holds.

use super::Malformed;
use super::picture::{Body, Picture};
use super::source::{Bytes, ReadAt, Source};

/// Bytes of an APEv2 header or footer.
const APE_FOOTER: u64 = 32;
/// Bytes of an ID3v1 tag.
const ID3V1: u64 = 128;
/// Items read from one APEv2 tag at most.
const MAX_ITEMS: u32 = 4096;
/// Trailing tags peeled off at most: each kind may come once, in any order.
const MAX_TRAILING_TAGS: usize = 4;

/// An APEv2 tag found before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ApeTag {
    /// Where the tag starts, its header included.
    start: u64,
    /// Where its items start.
    items: u64,
    /// Where its footer starts.
    footer: u64,
    count: u32,
}

/// The APEv2 tag whose footer ends at `end`, if there is one.
fn ape_before<R: ReadAt>(source: &mut Source<R>, end: u64) -> Option<ApeTag> {
    let footer = end.checked_sub(APE_FOOTER)?;
    let bytes = source.array::<32>(footer).ok()?;
    if &bytes[..8] != b"APETAGEX" {
        return None;
    }
    let size = u64::from(bytes.u32_le(12)?);
    let count = bytes.u32_le(16)?;
    let has_header = bytes.u32_le(20)? & 1 << 31 != 0;
    let items = end.checked_sub(size).filter(|_| size >= APE_FOOTER)?;
    let start = if has_header { items.checked_sub(APE_FOOTER)? } else { items };
    Some(ApeTag { start, items, footer, count })
}

/// The length of the Lyrics3v2 block that ends at `end`, if there is one.
fn lyrics3_before<R: ReadAt>(source: &mut Source<R>, end: u64) -> Option<u64> {
    let bytes = source.array::<15>(end.checked_sub(15)?).ok()?;
    if &bytes[6..] != b"LYRICS200" {
        return None;
    }
    let size: u64 = std::str::from_utf8(&bytes[..6]).ok()?.parse().ok()?;
    end.checked_sub(size + 15).map(|_| size + 15)
}

/// Where the audio ends: before any ID3v1, APEv2 and Lyrics3v2 tags at the end.
pub fn audio_end<R: ReadAt>(source: &mut Source<R>) -> u64 {
    let mut end = source.len();
    for _ in 0..MAX_TRAILING_TAGS {
        if end >= ID3V1 && source.array::<3>(end - ID3V1).is_ok_and(|tag| &tag == b"TAG") {
            end -= ID3V1;
        } else if let Some(tag) = ape_before(source, end) {
            end = tag.start;
        } else if let Some(len) = lyrics3_before(source, end) {
            end -= len;
        } else {
            break;
        }
    }
    end
}

/// The APEv2 tag at the end of the file, before any ID3v1 or Lyrics3v2 tag.
fn find<R: ReadAt>(source: &mut Source<R>) -> Option<ApeTag> {
    let mut end = source.len();
    for _ in 0..MAX_TRAILING_TAGS {
        if let Some(tag) = ape_before(source, end) {
            return Some(tag);
        }
        if end >= ID3V1 && source.array::<3>(end - ID3V1).is_ok_and(|tag| &tag == b"TAG") {
            end -= ID3V1;
        } else {
            end -= lyrics3_before(source, end)?;
        }
    }
    None
}

/// The pictures of the APEv2 tag: binary `Cover Art (…)` items, whose value is a file name,
/// a NUL and the image.
pub fn pictures<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Picture>, Malformed> {
    let Some(tag) = find(source) else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    let mut offset = tag.items;
    for _ in 0..tag.count.min(MAX_ITEMS) {
        // Value size, flags, a key of at most 255 bytes and its NUL.
        let head = source.up_to(offset, 8 + 256);
        let (Some(size), Some(flags)) = (head.u32_le(0), head.u32_le(4)) else { break };
        let Some(key_len) = head.get(8..).and_then(|key| key.iter().position(|&b| b == 0)) else {
            break;
        };
        let key = &head[8..8 + key_len];
        let value = offset + 8 + key_len as u64 + 1;
        let Some(value_end) = value.checked_add(u64::from(size)).filter(|&end| end <= tag.footer)
        else {
            break;
        };
        let binary = (flags >> 1) & 3 == 1;
        if binary && key.len() >= 9 && key[..9].eq_ignore_ascii_case(b"Cover Art") {
            let front = key.eq_ignore_ascii_case(b"Cover Art (Front)");
            let name = source.up_to(value, 256.min(size as usize));
            if let Some(nul) = name.iter().position(|&b| b == 0) {
                let image = value + nul as u64 + 1;
                let len = value_end - image;
                if len > 0 {
                    found.push(Picture { front, body: Body::Span { offset: image, len } });
                }
            }
        }
        offset = value_end;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::super::picture::{Body, Picture};
    use super::super::source::Source;
    use super::{audio_end, pictures};

    fn ape(items: &[(&str, u32, &[u8])], header: bool) -> Vec<u8> {
        let mut body = Vec::new();
        for (key, flags, value) in items {
            body.extend((value.len() as u32).to_le_bytes());
            body.extend(flags.to_le_bytes());
            body.extend(key.as_bytes());
            body.push(0);
            body.extend(*value);
        }
        let size = body.len() as u32 + 32;
        let frame = |flags: u32| {
            let mut b = b"APETAGEX".to_vec();
            for n in [2000, size, items.len() as u32, flags, 0, 0] {
                b.extend(n.to_le_bytes());
            }
            b
        };
        let mut tag = Vec::new();
        if header {
            tag.extend(frame(1 << 31 | 1 << 29));
        }
        tag.extend(body);
        tag.extend(frame(if header { 1 << 31 } else { 0 }));
        tag
    }

    fn id3v1() -> Vec<u8> {
        let mut tag = b"TAG".to_vec();
        tag.resize(128, 0);
        tag
    }

    #[test]
    fn audio_ends_before_trailing_tags() {
        let audio = vec![0xffu8; 1000];
        let with_ape = ape(&[("Title", 0, b"x")], true);
        let lyrics = b"LYRICSBEGINabcLYRICS200".to_vec();
        let lyrics = [&lyrics[..14], b"000014", &lyrics[14..]].concat();
        #[rustfmt::skip]
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (audio.clone(), "no tags"),
            ([audio.clone(), id3v1()].concat(), "ID3v1"),
            ([audio.clone(), with_ape.clone()].concat(), "APEv2 with header"),
            ([audio.clone(), ape(&[], false)].concat(), "APEv2 without header"),
            ([audio.clone(), with_ape.clone(), id3v1()].concat(), "APEv2 then ID3v1"),
            ([audio.clone(), lyrics, id3v1()].concat(), "Lyrics3v2 then ID3v1"),
        ];
        for (file, name) in cases {
            let len = file.len() as u64;
            assert_eq!(audio_end(&mut Source::new(file, len)), 1000, "{name}");
        }
    }

    #[test]
    fn a_footer_claiming_more_than_the_file_is_no_tag() {
        let mut tag = ape(&[], false);
        tag[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let len = tag.len() as u64;
        assert_eq!(audio_end(&mut Source::new(tag, len)), len);
    }

    #[test]
    fn cover_art_items_are_spans_after_the_file_name() {
        let tag = ape(
            &[
                ("Title", 0, b"t"),
                ("Cover Art (Back)", 2, b"b.jpg\0BACK"),
                ("COVER ART (FRONT)", 2, b"f.png\0FRONT"),
                ("Cover Art (Front)", 0, b"text"),
            ],
            true,
        );
        let file = [vec![0; 100], tag, id3v1()].concat();
        let len = file.len() as u64;
        let mut source = Source::new(file.clone(), len);
        let found = pictures(&mut source).unwrap();
        let spans: Vec<_> = found
            .iter()
            .map(|Picture { front, body }| match body {
                Body::Span { offset, len } => {
                    (*front, &file[*offset as usize..(*offset + *len) as usize])
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(spans, vec![(false, &b"BACK"[..]), (true, &b"FRONT"[..])]);
    }
}
