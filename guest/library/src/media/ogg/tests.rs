//! Ogg pages, identification headers and comments, built by hand.

use super::{decode_base64, picture_bytes, pictures, properties, tags};
use crate::media::Codec;
use crate::media::source::Source;
use crate::media::tags::Tags;

/// One page of stream 7 holding `packets`, each under 255 bytes.
fn page(granule: u64, packets: &[&[u8]]) -> Vec<u8> {
    let mut page = b"OggS\0\0".to_vec();
    page.extend(granule.to_le_bytes());
    page.extend(7u32.to_le_bytes());
    page.extend([0; 8]);
    page.push(packets.len() as u8);
    page.extend(packets.iter().map(|p| p.len() as u8));
    for packet in packets {
        page.extend(*packet);
    }
    page
}

fn opus_head(pre_skip: u16) -> Vec<u8> {
    let mut head = b"OpusHead\x01\x02".to_vec();
    head.extend(pre_skip.to_le_bytes());
    head.extend(44_100u32.to_le_bytes());
    head.extend([0, 0, 0]);
    head
}

fn tags_packet(comments: &[&[u8]]) -> Vec<u8> {
    let mut packet = b"OpusTags".to_vec();
    packet.extend(3u32.to_le_bytes());
    packet.extend(b"enc");
    packet.extend((comments.len() as u32).to_le_bytes());
    for comment in comments {
        packet.extend((comment.len() as u32).to_le_bytes());
        packet.extend(*comment);
    }
    packet
}

#[test]
fn opus_length_drops_the_pre_skip() {
    let mut file = page(0, &[&opus_head(312)]);
    file.extend(page(0, &[&tags_packet(&[b"TITLE=x"])]));
    let audio = file.len() as u64;
    file.extend(page(48_000, &[&[1; 100]]));
    file.extend(page(144_312, &[&[1; 100]]));
    let len = file.len() as u64;
    let got = properties(&mut Source::new(file, len)).unwrap();
    assert_eq!(got.codec, Codec::Opus);
    assert_eq!(got.duration, Some(3.0));
    assert_eq!((got.sample_rate, got.channels, got.audio_bytes), (48_000, 2, len - audio));
}

#[test]
fn vorbis_identification() {
    let mut id = b"\x01vorbis\0\0\0\0\x01".to_vec();
    id.extend(44_100u32.to_le_bytes());
    id.extend([0; 14]);
    let mut file = page(0, &[&id]);
    file.extend(page(0, &[b"\x03vorbis\0\0\0\0\0\0\0\0", b"\x05vorbis"]));
    file.extend(page(132_300, &[&[0; 10]]));
    let len = file.len() as u64;
    let got = properties(&mut Source::new(file, len)).unwrap();
    assert_eq!(
        (got.codec, got.duration, got.sample_rate, got.channels),
        (Codec::Vorbis, Some(3.0), 44_100, 1)
    );
}

#[test]
fn picture_comments_are_found_then_decoded() {
    // A FLAC picture structure: type 3, "image/png", no description, 16 bytes of
    // sizes, then 3 bytes of image.
    let mut block = 3u32.to_be_bytes().to_vec();
    block.extend(9u32.to_be_bytes());
    block.extend(b"image/png");
    block.extend(0u32.to_be_bytes());
    block.extend([0; 16]);
    block.extend(3u32.to_be_bytes());
    block.extend(b"PNG");
    let encoded = base64(&block);
    let comment = [&b"metadata_block_picture="[..], encoded.as_bytes()].concat();
    let mut file = page(0, &[&opus_head(0)]);
    file.extend(page(0, &[&tags_packet(&[b"TITLE=x", &comment])]));
    file.extend(page(960, &[&[1; 10]]));
    let len = file.len() as u64;
    let mut source = Source::new(file, len);
    assert_eq!(tags(&mut source).unwrap(), Tags { title: Some("x".into()), ..Tags::default() });
    let found = pictures(&mut source).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].front);
    let crate::media::picture::Body::OggComment { offset, len } = found[0].body else {
        unreachable!()
    };
    assert_eq!(picture_bytes(&mut source, offset, len), Some(b"PNG".to_vec()));
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[test]
fn comments_become_tags() {
    #[rustfmt::skip]
    let comments: &[&[u8]] = &[
        b"title=T", b"ARTIST=A", b"Album=B", b"ALBUMARTIST=AA", b"TRACKNUMBER=3/12", b"DISCNUMBER=1", b"DISCTOTAL=2",
        b"DATE=2019-05-03", b"GENRE=Rock", b"TITLE=Second", b"COMMENT=x", b"no separator", b"=empty key",
    ];
    let mut file = page(0, &[&opus_head(0)]);
    file.extend(page(0, &[&tags_packet(comments)]));
    let len = file.len() as u64;
    let want = Tags {
        title: Some("T".into()),
        artist: Some("A".into()),
        album: Some("B".into()),
        album_artist: Some("AA".into()),
        track: Some(3),
        track_total: Some(12),
        disc: Some(1),
        disc_total: Some(2),
        year: Some(2019),
        genre: Some("Rock".into()),
    };
    assert_eq!(tags(&mut Source::new(file, len)).unwrap(), want);
}

#[test]
fn base64_decoding() {
    #[rustfmt::skip]
    let cases: &[(&[u8], Option<&[u8]>)] = &[
        (b"", Some(b"")), (b"TWFu", Some(b"Man")), (b"TWE=", Some(b"Ma")), (b"TQ==", Some(b"M")),
        (b"TWE", Some(b"Ma")), (b"AAAAAw", Some(b"\0\0\0\x03")), (b"TW\nFu", None), (b"T*==", None),
        (b"TQ==TQ", None),
    ];
    for &(text, want) in cases {
        assert_eq!(decode_base64(text).as_deref(), want, "{text:?}");
    }
    assert_eq!(
        decode_base64(base64(b"any bytes \xff\x00").as_bytes()).unwrap(),
        b"any bytes \xff\x00"
    );
    // Fed in pieces of any size, the decoder gives the same bytes.
    let bytes: Vec<u8> = (0..=255).collect();
    let text = base64(&bytes);
    for piece in [1, 2, 3, 5, 64] {
        let mut out = Vec::new();
        let mut decoder = super::comments::Base64::default();
        for chunk in text.as_bytes().chunks(piece) {
            decoder.feed(chunk, &mut out).unwrap();
        }
        assert_eq!(out, bytes, "pieces of {piece}");
    }
}

#[test]
fn truncated_or_foreign_streams_are_malformed() {
    let head_only = page(0, &[&opus_head(0)]);
    let speex = page(0, &[b"Speex   1.2"]);
    for file in [head_only, speex, b"OggS".to_vec()] {
        let len = file.len() as u64;
        assert!(properties(&mut Source::new(file, len)).is_err());
    }
}
