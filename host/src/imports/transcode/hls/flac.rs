//! FLAC frame numbers. The encoder numbers the frames of each segment from 0; renumbered, the
//! frames of all segments are one FLAC stream, as a continuous encode would number them.

/// `frame` (a whole FLAC frame of a fixed-block-size stream) numbered `number`: its header's
/// coded number replaced, and both of its CRCs made again. `None` for a frame that is not one.
pub(super) fn renumber(frame: &[u8], number: u64) -> Option<Vec<u8>> {
    // Sync code and fixed block size (`0xFFF8`); a variable-size stream numbers samples.
    if frame.len() < 8 || frame[0] != 0xFF || frame[1] != 0xF8 {
        return None;
    }
    let (_, coded_len) = decode_number(&frame[4..])?;
    // After the number: 8 or 16 bits of block size and of rate, where their codes say so.
    let block_extra = match frame[2] >> 4 {
        6 => 1,
        7 => 2,
        _ => 0,
    };
    let rate_extra = match frame[2] & 0x0F {
        12 => 1,
        13 | 14 => 2,
        _ => 0,
    };
    let rest = 4 + coded_len;
    let header_end = rest + block_extra + rate_extra;
    // The header's CRC-8, then the subframes, then the CRC-16.
    if frame.len() < header_end + 1 + 2 || crc8(&frame[..header_end]) != frame[header_end] {
        return None;
    }
    let mut out = Vec::with_capacity(frame.len() + 6);
    out.extend_from_slice(&frame[..4]);
    encode_number(number, &mut out)?;
    out.extend_from_slice(&frame[rest..header_end]);
    out.push(crc8(&out));
    out.extend_from_slice(&frame[header_end + 1..frame.len() - 2]);
    let crc = crc16(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Some(out)
}

/// The number coded at the start of `bytes` in FLAC's extended UTF-8 (up to 36 bits), and the
/// bytes it takes.
fn decode_number(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = match first.leading_ones() {
        0 => return Some((u64::from(first), 1)),
        ones @ 2..=7 => ones as usize,
        _ => return None,
    };
    let mut number = u64::from(first & (0x7F >> len));
    for &byte in bytes.get(1..len)? {
        if byte & 0xC0 != 0x80 {
            return None;
        }
        number = number << 6 | u64::from(byte & 0x3F);
    }
    Some((number, len))
}

/// Appends `number` (below 2^36) in FLAC's extended UTF-8.
fn encode_number(number: u64, out: &mut Vec<u8>) -> Option<()> {
    if number < 0x80 {
        out.push(number as u8);
        return Some(());
    }
    // Bytes after the first, each carrying 6 bits; the first carries 6 − continuation bits.
    let more = (1..=6).find(|&more| number < 1 << (5 * more + 6))?;
    let lead = (0xFF00u16 >> (more + 1)) as u8;
    out.push(lead | (number >> (6 * more)) as u8);
    for shift in (0..more).rev() {
        out.push(0x80 | (number >> (6 * shift)) as u8 & 0x3F);
    }
    Some(())
}

/// CRC-8 of a FLAC frame header: polynomial x⁸ + x² + x + 1, initial 0.
fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |crc, &byte| CRC8[usize::from(crc ^ byte)])
}

/// CRC-16 of a FLAC frame: polynomial x¹⁶ + x¹⁵ + x² + 1, initial 0, not reflected.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0, |crc, &byte| crc << 8 ^ CRC16[usize::from((crc >> 8) as u8 ^ byte)])
}

static CRC8: [u8; 256] = {
    let mut table = [0; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x80 != 0 { crc << 1 ^ 0x07 } else { crc << 1 };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
};

static CRC16: [u16; 256] = {
    let mut table = [0; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = (index as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { crc << 1 ^ 0x8005 } else { crc << 1 };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_in_the_fewest_bytes() {
        #[rustfmt::skip]
        let cases: [(u64, usize); 10] = [(0, 1), (0x7F, 1), (0x80, 2), (0x7FF, 2), (0x800, 3),
            (0xFFFF, 3), (0x1_0000, 4), (0x3FF_FFFF, 5), (0x400_0000, 6), ((1 << 36) - 1, 7)];
        for (number, len) in cases {
            let mut out = Vec::new();
            encode_number(number, &mut out).unwrap();
            assert_eq!(out.len(), len, "{number:#x}");
            assert_eq!(decode_number(&out), Some((number, len)), "{number:#x}");
        }
        assert_eq!(encode_number(1 << 36, &mut Vec::new()), None);
        // UTF-8 of U+00E9 is C3 A9; U+20AC is E2 82 AC.
        assert_eq!(decode_number(&[0xC3, 0xA9]), Some((0xE9, 2)));
        assert_eq!(decode_number(&[0xE2, 0x82, 0xAC]), Some((0x20AC, 3)));
        for bad in [&[0x80][..], &[0xC3], &[0xC3, 0x29], &[0xFF, 0x80]] {
            assert_eq!(decode_number(bad), None, "{bad:x?}");
        }
    }

    #[test]
    fn crcs_match_their_check_values() {
        // The catalogue's check values of "123456789": CRC-8 (SMBUS) F4, CRC-16/UMTS FEE8.
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }

    /// A frame as an encoder writes it: header (number 0, block size 4096 coded as 12, rate
    /// from STREAMINFO), CRC-8, `body`, CRC-16.
    fn frame(number: u64, body: &[u8]) -> Vec<u8> {
        let mut frame = vec![0xFF, 0xF8, 0xC0, 0x18];
        encode_number(number, &mut frame).unwrap();
        frame.push(crc8(&frame));
        frame.extend_from_slice(body);
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        frame
    }

    #[test]
    fn renumbering_table() {
        let body = [0x12, 0x34, 0x56, 0x78, 0x9A];
        let cases: [(u64, u64); 4] = [(0, 0), (0, 5), (0, 300), (7, 100_000)];
        for (from, to) in cases {
            let renumbered = renumber(&frame(from, &body), to).unwrap();
            assert_eq!(renumbered, frame(to, &body), "{from} → {to}");
        }
        // A header with 16 bits of block size (code 7) and 8 of rate (code 12) after the number.
        let mut odd = vec![0xFF, 0xF8, 0x7C, 0x18, 0x00, 0x10, 0x00, 0x2C];
        odd.push(crc8(&odd));
        odd.extend_from_slice(&body);
        let crc = crc16(&odd);
        odd.extend_from_slice(&crc.to_be_bytes());
        let renumbered = renumber(&odd, 200).unwrap();
        assert_eq!(renumbered[4..6], [0xC3, 0x88], "200 in two bytes");
        assert_eq!(renumbered[6..9], odd[5..8], "size and rate bytes kept");
        assert_eq!(renumbered.len(), odd.len() + 1);
        let good = frame(3, &body);
        let mut bad_crc = good.clone();
        bad_crc[5] ^= 1;
        let mut variable = good.clone();
        variable[1] = 0xF9;
        for (name, bad) in [
            ("header CRC", &bad_crc),
            ("variable block size", &variable),
            ("cut", &good[..6].to_vec()),
        ] {
            assert_eq!(renumber(bad, 1), None, "{name}");
        }
    }
}
