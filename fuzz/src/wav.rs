//! `wav::PcmFormat` (the WAV header and `locate`) and `transcode::wav_body`. Input lines: the
//! format as `rate channels bits int|float frames`; the Range field value of a request for
//! the WAV (an empty line for none); then `start-end` byte ranges of the WAV to locate.
//!
//! Formats outside what the host's probe accepts are skipped: the host refuses them
//! (`checked` in `host/src/imports/transcode/probe.rs`) before the guest sees them.

use tapedeck_guest::precondition::Conditionals;
use tapedeck_guest::reply::{Body, Method};
use tapedeck_guest::respond::{self, Representation};
use tapedeck_guest::transcode::{self, Piece};
use tapedeck_guest::wav::{self, HEADER_LEN, PcmFormat, PcmSlice};

/// The most sample bytes a WAV can describe: its RIFF size is 32 bits.
const MAX_DATA_BYTES: u64 = u32::MAX as u64 - HEADER_LEN;

/// Part ranges of a multipart reply lie more than this many bytes apart.
const COALESCE_GAP: u64 = 80;

/// Checks one format, one request and any number of located ranges.
pub fn check(data: &[u8]) {
    let Some(lines) = crate::input::lines(data) else {
        return;
    };
    let Some(format) = lines.first().and_then(|line| format(line)) else {
        return;
    };
    check_header(&format);
    let range = lines.get(1).copied().filter(|line| !line.is_empty());
    check_body(&format, range);
    for line in lines.iter().skip(2) {
        if let Some((start, end)) = crate::input::pair(line)
            && start <= end
            && end < format.wav_len()
        {
            check_locate(&format, start, end - start + 1);
        }
    }
}

/// `rate channels bits int|float frames`, if the host would hand it to the guest.
fn format(line: &str) -> Option<PcmFormat> {
    let mut words = line.split_whitespace();
    let sample_rate: u32 = words.next()?.parse().ok()?;
    let channels: u16 = words.next()?.parse().ok()?;
    let bits_per_sample: u16 = words.next()?.parse().ok()?;
    let float = match words.next()? {
        "int" => false,
        "float" => true,
        _ => return None,
    };
    let total_frames: u64 = words.next()?.parse().ok()?;
    let block_align = u64::from(channels) * u64::from(bits_per_sample / 8);
    let plausible = (1..=768_000).contains(&sample_rate)
        && (1..=32).contains(&channels)
        && matches!(bits_per_sample, 8 | 16 | 24 | 32)
        && (!float || bits_per_sample == 32)
        && total_frames.checked_mul(block_align)? <= MAX_DATA_BYTES;
    plausible.then_some(PcmFormat { sample_rate, channels, bits_per_sample, float, total_frames })
}

/// The header is the canonical 44 bytes describing exactly this format.
fn check_header(format: &PcmFormat) {
    let header = format.header();
    let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let align = format.block_align();
    assert_eq!(align, u64::from(format.channels) * u64::from(format.bits_per_sample / 8));
    assert_eq!(format.wav_len(), HEADER_LEN + format.total_frames * align);
    assert_eq!(
        (&header[0..4], &header[8..16], &header[36..40]),
        (&b"RIFF"[..], &b"WAVEfmt "[..], &b"data"[..])
    );
    assert_eq!(u64::from(u32_at(4)), format.data_len() + 36, "{format:?}");
    assert_eq!((u32_at(16), u16_at(20)), (16, if format.float { 3 } else { 1 }));
    assert_eq!((u16_at(22), u32_at(24)), (format.channels, format.sample_rate));
    assert_eq!(u64::from(u32_at(28)), u64::from(format.sample_rate) * align, "byte rate");
    assert_eq!((u64::from(u16_at(32)), u16_at(34)), (align, format.bits_per_sample));
    assert_eq!(u64::from(u32_at(40)), format.data_len(), "{format:?}");
}

/// A request for the WAV gives pieces that add up to its Content-Length, each PCM slice
/// inside the decode, in an order one forward-only decoder can serve.
fn check_body(format: &PcmFormat, range: Option<&str>) {
    let rep = Representation {
        file_name: "song.wav",
        content_type: wav::MEDIA_TYPE,
        len: format.wav_len(),
        modified_secs: 0,
        etag: r#""1.0-2-wav""#,
    };
    let reply = respond::serve(Method::Get, &Conditionals::default(), range, &rep);
    let Body::Representation(chunks) = reply.body else {
        return;
    };
    let content_length: u64 = reply
        .headers
        .iter()
        .find(|(name, _)| *name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .expect("a Content-Length");
    let pieces: Vec<Piece> = transcode::wav_body(format, chunks);
    let mut sent = 0;
    let mut previous: Option<PcmSlice> = None;
    for piece in pieces {
        match piece {
            Piece::Literal(bytes) => sent += bytes.len() as u64,
            Piece::Made(slice) => {
                sent += slice.len;
                check_slice(format, &slice);
                if let Some(before) = previous {
                    let last_frame = before.first_frame + before.frame_count - 1;
                    assert!(slice.first_frame >= last_frame, "{before:?} then {slice:?}");
                    if slice.first_frame == last_frame {
                        // Shares a frame only when a frame is wider than the gap between parts.
                        assert!(format.block_align() > COALESCE_GAP + 1, "{before:?}, {slice:?}");
                    }
                }
                previous = Some(slice);
            }
        }
    }
    assert_eq!(sent, content_length, "{range:?} of {format:?}");
}

/// The slice decodes at least one frame, all inside the file, and drops less than a frame.
fn check_slice(format: &PcmFormat, slice: &PcmSlice) {
    let align = format.block_align();
    assert!(slice.frame_count >= 1 && slice.len >= 1, "{slice:?}");
    assert!(slice.skip < align, "{slice:?}");
    assert!(slice.first_frame + slice.frame_count <= format.total_frames, "{slice:?}");
    // The decoded frames hold the slice, and the last frame is needed.
    let decoded = slice.frame_count * align;
    assert!(slice.skip + slice.len <= decoded, "{slice:?}");
    assert!(slice.skip + slice.len > decoded - align, "{slice:?}");
}

/// Bytes `start..start + len` of the WAV are the header bytes there, then the samples at
/// exactly that offset.
fn check_locate(format: &PcmFormat, start: u64, len: u64) {
    let source = format.locate(start, len);
    let end = start + len;
    let header_end = end.min(HEADER_LEN);
    let want_header = if start < HEADER_LEN {
        format.header()[start as usize..header_end as usize].to_vec()
    } else {
        Vec::new()
    };
    assert_eq!(source.header, want_header, "{start}+{len}");
    let pcm_len = source.pcm.map_or(0, |slice| slice.len);
    assert_eq!(source.header.len() as u64 + pcm_len, len, "{start}+{len}");
    if let Some(slice) = source.pcm {
        check_slice(format, &slice);
        let pcm_start = start.max(HEADER_LEN) - HEADER_LEN;
        assert_eq!(slice.first_frame * format.block_align() + slice.skip, pcm_start);
    } else {
        assert!(end <= HEADER_LEN, "{start}+{len} has samples");
    }
}
