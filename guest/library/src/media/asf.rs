//! ASF (WMA): the header objects for the properties, the tags and `WM/Picture`. lofty has
//! no ASF support, so this reads the tags too.

use super::picture::{Body, Picture};
use super::source::{Bytes, ReadAt, Source};
use super::tags::{Field, Tags};
use super::{Codec, Malformed, Properties};

/// GUIDs, as their bytes appear in the file.
pub const HEADER_GUID: [u8; 16] = guid(0x75B2_2630, 0x668E, 0x11CF, 0xA6D9_00AA_0062_CE6C);
const FILE_PROPERTIES: [u8; 16] = guid(0x8CAB_DCA1, 0xA947, 0x11CF, 0x8EE4_00C0_0C20_5365);
const STREAM_PROPERTIES: [u8; 16] = guid(0xB7DC_0791, 0xA9B7, 0x11CF, 0x8EE6_00C0_0C20_5365);
const AUDIO_MEDIA: [u8; 16] = guid(0xF869_9E40, 0x5B4D, 0x11CF, 0xA8FD_0080_5F5C_442B);
const CONTENT_DESCRIPTION: [u8; 16] = guid(0x75B2_2633, 0x668E, 0x11CF, 0xA6D9_00AA_0062_CE6C);
const EXTENDED_CONTENT: [u8; 16] = guid(0xD2D0_A440, 0xE307, 0x11D2, 0x97F0_00A0_C95E_A850);
const HEADER_EXTENSION: [u8; 16] = guid(0x5FBF_03B5, 0xA92E, 0x11CF, 0x8EE3_00C0_0C20_5365);
const METADATA: [u8; 16] = guid(0xC5F8_CBEA, 0x5BAF, 0x4877, 0x8467_AA8C_44FA_4CCA);
const METADATA_LIBRARY: [u8; 16] = guid(0x4423_1C94, 0x9498, 0x49D1, 0xA141_1D13_4E45_7054);
const DATA: [u8; 16] = guid(0x75B2_2636, 0x668E, 0x11CF, 0xA6D9_00AA_0062_CE6C);

/// A GUID's bytes: the first three fields little-endian, the rest as written.
const fn guid(a: u32, b: u16, c: u16, d: u64) -> [u8; 16] {
    let (a, b, c, d) = (a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes(), d.to_be_bytes());
    [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]
}

/// Objects and attributes read at most.
const MAX_OBJECTS: usize = 1024;
const MAX_ATTRIBUTES: usize = 4096;
/// Bytes of an attribute's name read at most.
const MAX_NAME: u16 = 128;
/// Bytes of an attribute's text read at most.
const MAX_TEXT: u64 = 64 * 1024;

/// An object: its GUID, where its body starts and where it ends.
struct Object {
    guid: [u8; 16],
    body: u64,
    end: u64,
}

fn objects<R: ReadAt>(source: &mut Source<R>, start: u64, end: u64) -> Vec<Object> {
    let mut found = Vec::new();
    let mut offset = start;
    while offset + 24 <= end && found.len() < MAX_OBJECTS {
        let Ok(header) = source.array::<24>(offset) else { break };
        let size = header.u64_le(16).unwrap_or(0);
        let Some(object_end) = offset.checked_add(size).filter(|&e| size >= 24 && e <= end) else {
            break;
        };
        let mut guid = [0; 16];
        guid.copy_from_slice(&header[..16]);
        found.push(Object { guid, body: offset + 24, end: object_end });
        offset = object_end;
    }
    found
}

/// The Header Object's children, and where the header ends.
fn header<R: ReadAt>(source: &mut Source<R>) -> Result<(Vec<Object>, u64), Malformed> {
    let head = source.array::<30>(0)?;
    if head[..16] != HEADER_GUID {
        return Err(Malformed);
    }
    let size = head.u64_le(16).ok_or(Malformed)?.min(source.len());
    Ok((objects(source, 30, size), size))
}

/// The properties of a WMA file.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let (children, header_end) = header(source)?;
    let file = children.iter().find(|o| o.guid == FILE_PROPERTIES).ok_or(Malformed)?;
    let file = source.array::<80>(file.body)?;
    // Play duration in 100 ns units, which includes the preroll (in ms) before the first
    // sample is played.
    let play = file.u64_le(40).ok_or(Malformed)?;
    let preroll = file.u64_le(56).ok_or(Malformed)?;
    let (mut rate, mut channels, mut format) = (0, 0, 0);
    for stream in children.iter().filter(|o| o.guid == STREAM_PROPERTIES) {
        let head = source.up_to(stream.body, 54 + 18);
        if head.get(..16) == Some(&AUDIO_MEDIA) {
            // WAVEFORMATEX after the stream type, error correction type and lengths.
            format = head.u16_le(54).ok_or(Malformed)?;
            channels = head.u16_le(56).ok_or(Malformed)?;
            rate = head.u32_le(58).ok_or(Malformed)?;
            break;
        }
    }
    // 0x160 to 0x163: WMA 1, 2, Pro and Lossless.
    if !(0x160..=0x163).contains(&format) || rate == 0 {
        return Err(Malformed);
    }
    let played = play.saturating_sub(preroll.saturating_mul(10_000));
    let data = objects(source, header_end, source.len()).into_iter().find(|o| o.guid == DATA);
    // The Data Object's header is 50 bytes: GUID, size, file id, packet count, reserved.
    let audio_bytes =
        data.map_or(source.len() - header_end, |o| (o.end - o.body).saturating_sub(26));
    Ok(Properties {
        codec: Codec::Wma,
        duration: Some(played as f64 / 1e7),
        audio_bytes,
        sample_rate: rate,
        channels,
        bits_per_sample: None,
    })
}

/// An attribute of the extended content description or metadata objects.
struct Attribute {
    name: String,
    kind: u16,
    value: u64,
    len: u64,
}

/// UTF-16LE text up to its first NUL.
fn utf16(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

/// The name of `len` bytes at `offset`; empty when longer than any name the API reads, so
/// that thousands of attributes with long names cannot fill the instance's memory.
fn attribute_name<R: ReadAt>(source: &mut Source<R>, offset: u64, len: u16) -> String {
    if len > MAX_NAME { String::new() } else { utf16(&source.up_to(offset, len.into())) }
}

/// All attributes of the header, with the title and author of the content description.
fn attributes<R: ReadAt>(source: &mut Source<R>, children: &[Object]) -> Vec<Attribute> {
    let mut found = Vec::new();
    for object in children {
        if object.guid == CONTENT_DESCRIPTION {
            // Five lengths, then title, author, copyright, description, rating.
            let lengths = source.up_to(object.body, 10);
            let (Some(title), Some(author)) = (lengths.u16_le(0), lengths.u16_le(2)) else {
                continue;
            };
            let value = object.body + 10;
            found.push(Attribute { name: "Title".into(), kind: 0, value, len: title.into() });
            found.push(Attribute {
                name: "Author".into(),
                kind: 0,
                value: value + u64::from(title),
                len: author.into(),
            });
        } else if object.guid == EXTENDED_CONTENT {
            extended_content(source, object, &mut found);
        } else if object.guid == HEADER_EXTENSION {
            // A reserved GUID and field, the data size, then more objects.
            let inner = objects(source, object.body + 22, object.end);
            for inner in inner.iter().filter(|o| o.guid == METADATA || o.guid == METADATA_LIBRARY) {
                metadata(source, inner, &mut found);
            }
        }
    }
    found
}

fn extended_content<R: ReadAt>(
    source: &mut Source<R>,
    object: &Object,
    found: &mut Vec<Attribute>,
) {
    let count = source.up_to(object.body, 2).u16_le(0).unwrap_or(0);
    let mut offset = object.body + 2;
    for _ in 0..count {
        let Some(name_len) = source.up_to(offset, 2).u16_le(0) else { return };
        let name = attribute_name(source, offset + 2, name_len);
        let at = offset + 2 + u64::from(name_len);
        let head = source.up_to(at, 4);
        let (Some(kind), Some(len)) = (head.u16_le(0), head.u16_le(2)) else { return };
        let value = at + 4;
        if value + u64::from(len) > object.end || found.len() >= MAX_ATTRIBUTES {
            return;
        }
        found.push(Attribute { name, kind, value, len: len.into() });
        offset = value + u64::from(len);
    }
}

fn metadata<R: ReadAt>(source: &mut Source<R>, object: &Object, found: &mut Vec<Attribute>) {
    let count = source.up_to(object.body, 2).u16_le(0).unwrap_or(0);
    let mut offset = object.body + 2;
    for _ in 0..count {
        // Language, stream, name length, type, data length.
        let head = source.up_to(offset, 12);
        let (Some(name_len), Some(kind), Some(len)) =
            (head.u16_le(4), head.u16_le(6), head.u32_le(8))
        else {
            return;
        };
        let name = attribute_name(source, offset + 12, name_len);
        let value = offset + 12 + u64::from(name_len);
        if value + u64::from(len) > object.end || found.len() >= MAX_ATTRIBUTES {
            return;
        }
        found.push(Attribute { name, kind, value, len: len.into() });
        offset = value + u64::from(len);
    }
}

/// An attribute's value as text: strings, and numbers (track numbers are often DWORDs).
fn text<R: ReadAt>(source: &mut Source<R>, attribute: &Attribute) -> Option<String> {
    let bytes = source.up_to(attribute.value, attribute.len.min(MAX_TEXT) as usize);
    match attribute.kind {
        0 => Some(utf16(&bytes)),
        3 => bytes.u32_le(0).map(|n| n.to_string()),
        4 => bytes.u64_le(0).map(|n| n.to_string()),
        5 => bytes.u16_le(0).map(|n| n.to_string()),
        _ => None,
    }
}

/// The tags of a WMA file.
pub fn tags<R: ReadAt>(source: &mut Source<R>) -> Result<Tags, Malformed> {
    let (children, _) = header(source)?;
    let mut tags = Tags::default();
    let mut zero_based_track = None;
    for attribute in attributes(source, &children) {
        let field = match attribute.name.to_ascii_lowercase().as_str() {
            "title" => Field::Title,
            "author" => Field::Artist,
            "wm/albumtitle" => Field::Album,
            "wm/albumartist" => Field::AlbumArtist,
            "wm/tracknumber" => Field::Track,
            "wm/partofset" => Field::Disc,
            "wm/year" | "date" | "wm/originalreleaseyear" => Field::Year,
            "wm/genre" => Field::Genre,
            // The first ASF writers numbered tracks from 0.
            "wm/track" => {
                zero_based_track =
                    text(source, &attribute).and_then(|n| n.trim().parse::<u32>().ok());
                continue;
            }
            _ => continue,
        };
        if let Some(value) = text(source, &attribute) {
            tags.fill(field, &value);
        }
    }
    if let Some(track) = zero_based_track.and_then(|n| n.checked_add(1)) {
        tags.fill(Field::Track, &track.to_string());
    }
    Ok(tags)
}

/// The `WM/Picture` attributes: a picture type, the data length, a UTF-16 MIME type and
/// description, then the image.
pub fn pictures<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Picture>, Malformed> {
    let (children, _) = header(source)?;
    let mut found = Vec::new();
    for attribute in attributes(source, &children) {
        if attribute.kind != 1 || !attribute.name.eq_ignore_ascii_case("WM/Picture") {
            continue;
        }
        let head = source.up_to(attribute.value, attribute.len.min(8192) as usize);
        let Some((image, len, front)) = split_picture(&head) else { continue };
        if image as u64 + len <= attribute.len && len > 0 {
            found.push(Picture {
                front,
                body: Body::Span { offset: attribute.value + image as u64, len },
            });
        }
    }
    Ok(found)
}

/// Where the image starts in a `WM/Picture` value, its length, and whether it is the
/// front cover.
pub fn split_picture(value: &[u8]) -> Option<(usize, u64, bool)> {
    let kind = *value.first()?;
    let len = u64::from(value.u32_le(1)?);
    let mut at = 5;
    for _ in 0..2 {
        // A NUL-terminated UTF-16 string: two zero bytes at an even distance.
        let text = value.get(at..)?;
        at += text.chunks_exact(2).position(|pair| pair == [0, 0])? * 2 + 2;
    }
    Some((at, len, kind == 3))
}

#[cfg(test)]
mod tests {
    use super::super::source::Source;
    use super::super::tags::Tags;
    use super::{
        AUDIO_MEDIA, CONTENT_DESCRIPTION, DATA, EXTENDED_CONTENT, FILE_PROPERTIES, HEADER_GUID,
        STREAM_PROPERTIES,
    };
    use super::{pictures, properties, split_picture, tags};

    #[test]
    fn guids_are_laid_out_mixed_endian() {
        assert_eq!(
            HEADER_GUID,
            [
                0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11, 0xa6, 0xd9, 0x00, 0xaa, 0x00, 0x62,
                0xce, 0x6c
            ]
        );
    }

    fn object(guid: [u8; 16], body: &[u8]) -> Vec<u8> {
        let mut object = guid.to_vec();
        object.extend((24 + body.len() as u64).to_le_bytes());
        object.extend(body);
        object
    }

    fn utf16z(text: &str) -> Vec<u8> {
        text.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect()
    }

    fn file(extra: &[Vec<u8>]) -> Vec<u8> {
        let mut properties = vec![0; 80];
        properties[40..48].copy_from_slice(&31_180_000u64.to_le_bytes());
        properties[56..64].copy_from_slice(&1000u64.to_le_bytes());
        let mut stream = AUDIO_MEDIA.to_vec();
        stream.resize(54, 0);
        for (n, width) in [(0x161u32, 2), (2, 2), (44_100, 4), (16_000, 4), (2_972, 2), (16, 2)] {
            stream.extend(&n.to_le_bytes()[..width]);
        }
        let mut children =
            vec![object(FILE_PROPERTIES, &properties), object(STREAM_PROPERTIES, &stream)];
        children.extend(extra.iter().cloned());
        let body: Vec<u8> = children.concat();
        let mut header = HEADER_GUID.to_vec();
        header.extend((30 + body.len() as u64).to_le_bytes());
        header.extend((children.len() as u32).to_le_bytes());
        header.extend([1, 2]);
        header.extend(body);
        header.extend(object(DATA, &[0; 26 + 1000]));
        header
    }

    #[test]
    fn properties_from_the_header() {
        let file = file(&[]);
        let len = file.len() as u64;
        let got = properties(&mut Source::new(file, len)).unwrap();
        // 3.118 s from the start of the preroll, which lasts 1 s.
        assert_eq!(got.duration, Some(2.118));
        assert_eq!((got.sample_rate, got.channels, got.audio_bytes), (44_100, 2, 1000));
    }

    #[test]
    fn tags_and_pictures_from_the_descriptions() {
        let (title, author) = (utf16z("Title é"), utf16z("Artist"));
        let mut description = (title.len() as u16).to_le_bytes().to_vec();
        description.extend((author.len() as u16).to_le_bytes());
        description.extend([0; 6]);
        description.extend(&title);
        description.extend(&author);
        let mut picture = vec![3];
        picture.extend(3u32.to_le_bytes());
        picture.extend(utf16z("image/png"));
        picture.extend(utf16z(""));
        picture.extend(b"PNG");
        let attributes: [(&str, u16, Vec<u8>); 5] = [
            ("WM/AlbumTitle", 0, utf16z("Album")),
            ("WM/TrackNumber", 0, utf16z("3/12")),
            ("WM/Track", 3, 9u32.to_le_bytes().to_vec()),
            ("date", 0, utf16z("2019-05-03")),
            ("WM/Picture", 1, picture),
        ];
        let mut extended = (attributes.len() as u16).to_le_bytes().to_vec();
        for (name, kind, value) in &attributes {
            let name = utf16z(name);
            extended.extend((name.len() as u16).to_le_bytes());
            extended.extend(&name);
            extended.extend(kind.to_le_bytes());
            extended.extend((value.len() as u16).to_le_bytes());
            extended.extend(value);
        }
        let file =
            file(&[object(CONTENT_DESCRIPTION, &description), object(EXTENDED_CONTENT, &extended)]);
        let len = file.len() as u64;
        let mut source = Source::new(file.clone(), len);
        let want = Tags {
            title: Some("Title é".into()),
            artist: Some("Artist".into()),
            album: Some("Album".into()),
            track: Some(3),
            track_total: Some(12),
            year: Some(2019),
            ..Tags::default()
        };
        assert_eq!(tags(&mut source).unwrap(), want);
        let found = pictures(&mut source).unwrap();
        let super::Body::Span { offset, len } = found[0].body else { unreachable!() };
        assert_eq!(&file[offset as usize..(offset + len) as usize], b"PNG");
        assert!(found[0].front);
    }

    #[test]
    fn picture_values() {
        assert_eq!(split_picture(b"\x03\x05\0\0\0i\0\0\0\0\0IMAGE"), Some((11, 5, true)));
        assert_eq!(split_picture(b"\x03\x05\0\0\0i\0"), None);
        assert_eq!(split_picture(b""), None);
    }
}
