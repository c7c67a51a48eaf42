//! The packets in an encoder's output: AAC in ADTS frames, FLAC in Ogg pages. Encoder output
//! is checked like any other input: a malformed stream is `None`, never a panic.

/// The raw AAC packets of an ADTS stream (ISO/IEC 13818-7 §6.2): each frame's payload after its
/// 7-byte header (9 with a CRC).
pub(super) fn adts(mut stream: &[u8]) -> Option<Vec<&[u8]>> {
    let mut packets = Vec::new();
    while !stream.is_empty() {
        let header = stream.get(..7)?;
        if header[0] != 0xFF || header[1] & 0xF6 != 0xF0 {
            return None;
        }
        let header_len = if header[1] & 1 == 1 { 7 } else { 9 };
        let frame_len = usize::from(header[3] & 0b11) << 11
            | usize::from(header[4]) << 3
            | usize::from(header[5]) >> 5;
        let frame = stream.get(..frame_len).filter(|_| frame_len >= header_len)?;
        packets.push(&frame[header_len..]);
        stream = &stream[frame_len..];
    }
    Some(packets)
}

/// The FLAC frames of an Ogg FLAC stream: its packets (RFC 3533: a page's lacing values join
/// segments into packets, a value under 255 ends one) after the header packets (the mapping's
/// `0x7F FLAC` packet and metadata blocks), each frame starting with the FLAC sync code.
pub(super) fn ogg_flac(mut stream: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut packets = Vec::new();
    let mut packet = Vec::new();
    while !stream.is_empty() {
        let header = stream.get(..27).filter(|header| header.starts_with(b"OggS"))?;
        let lacing = stream.get(27..27 + usize::from(header[26]))?;
        let mut at = 27 + lacing.len();
        for &len in lacing {
            packet.extend_from_slice(stream.get(at..at + usize::from(len))?);
            at += usize::from(len);
            if len < 255 {
                packets.push(std::mem::take(&mut packet));
            }
        }
        stream = &stream[at..];
    }
    let is_frame =
        |packet: &Vec<u8>| packet.len() > 2 && packet[0] == 0xFF && packet[1] & 0xFE == 0xF8;
    // The muxer ends the stream with an empty packet.
    packets.retain(|packet| !packet.is_empty());
    let first_frame = packets.iter().position(is_frame).unwrap_or(packets.len());
    let frames = packets.split_off(first_frame);
    frames.iter().all(is_frame).then_some(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ADTS frame of `payload`, with a CRC when `crc`.
    fn adts_frame(payload: &[u8], crc: bool) -> Vec<u8> {
        let header_len = if crc { 9 } else { 7 };
        let len = header_len + payload.len();
        let mut frame = vec![0xFF, if crc { 0xF0 } else { 0xF1 }, 0x50, 0x80];
        frame.push((len >> 3) as u8);
        frame.push(((len & 7) << 5) as u8 | 0x1F);
        frame.push(0xFC);
        frame.resize(header_len, 0);
        frame.extend_from_slice(payload);
        frame[3] |= (len >> 11) as u8;
        frame
    }

    /// An Ogg page holding `segments` (lacing values and their bytes).
    fn page(lacing: &[u8]) -> Vec<u8> {
        let mut page = b"OggS".to_vec();
        page.resize(26, 0);
        page.push(lacing.len() as u8);
        page.extend_from_slice(lacing);
        for (index, &len) in lacing.iter().enumerate() {
            page.extend(std::iter::repeat_n(index as u8, usize::from(len)));
        }
        page
    }

    /// (name, stream, its packets' sizes)
    type AdtsCase<'a> = (&'static str, &'a [u8], Option<Vec<usize>>);

    #[test]
    fn adts_table() {
        let a = adts_frame(&[1, 2, 3], false);
        let b = adts_frame(&[9; 300], true);
        let big = adts_frame(&[7; 3000], false);
        let both = [a.clone(), b.clone(), big.clone()].concat();
        #[rustfmt::skip]
        let cases: [AdtsCase; 7] = [
            ("three frames, one with a CRC, one past 2 KiB", &both, Some(vec![3, 300, 3000])),
            ("empty", &[], Some(vec![])),
            ("cut in a header", &both[..a.len() + 4], None),
            ("cut in a payload", &both[..both.len() - 1], None),
            ("no sync", &[0x00; 7], None),
            ("a length shorter than its header", &[0xFF, 0xF1, 0, 0, 0, 0x1F, 0xFC], None),
            ("MPEG layer bits set", &[0xFF, 0xF3, 0, 0, 1, 0, 0], None),
        ];
        for (name, stream, want) in cases {
            let got =
                adts(stream).map(|packets| packets.iter().map(|p| p.len()).collect::<Vec<_>>());
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(adts(&a).unwrap(), [&[1, 2, 3][..]]);
    }

    #[test]
    fn ogg_flac_table() {
        // Header packets, then frames: one across two pages (255 + 10 bytes), one of 0 bytes
        // in the middle cannot be a frame.
        let mut headers = page(&[51, 40]);
        headers[27 + 2] = 0x7F;
        let mut frames = page(&[255]);
        frames.extend(page(&[10, 5, 0]));
        // Make both frame packets start with the sync code.
        frames[27 + 1] = 0xFF;
        frames[27 + 2] = 0xF8;
        let second = frames.len() - 5;
        // (The last packet is empty, as ffmpeg's muxer ends a stream.)
        frames[second] = 0xFF;
        frames[second + 1] = 0xF9;
        let stream = [headers.clone(), frames.clone()].concat();
        let got = ogg_flac(&stream).unwrap();
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [265, 5]);
        assert_eq!(ogg_flac(&headers), Some(vec![]), "headers only");
        assert_eq!(ogg_flac(&stream[..stream.len() - 1]), None, "cut in a segment");
        assert_eq!(ogg_flac(&stream[..30]), None, "cut in a lacing table");
        assert_eq!(ogg_flac(b"OggX"), None);
        let mut bad = stream.clone();
        bad[headers.len() + second] = 0x00;
        assert_eq!(ogg_flac(&bad), None, "a packet after the frames that is not one");
        assert_eq!(ogg_flac(&[]), Some(vec![]));
    }
}
