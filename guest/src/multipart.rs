//! `multipart/byteranges` framing for a 206 carrying several ranges (RFC 9110 §14.6).

use crate::range::ByteRange;
use crate::reply::Chunk;

/// A `multipart/byteranges` body laid out as chunks, with the header values that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Byteranges {
    /// `multipart/byteranges; boundary=…`, the reply's Content-Type.
    pub media_type: String,
    /// The exact length of the body in bytes, the reply's Content-Length.
    pub content_length: u64,
    /// Each part's header as a literal followed by its bytes as a span, then the close delimiter.
    pub chunks: Vec<Chunk>,
}

/// Frames `ranges` of a `complete_len`-byte representation of type `content_type`, tagged
/// `etag`. The boundary comes from the entity-tag alone, so a HEAD and a GET of the same
/// representation announce the same Content-Type and Content-Length.
pub fn byteranges(
    etag: &str,
    content_type: &str,
    ranges: &[ByteRange],
    complete_len: u64,
) -> Byteranges {
    let boundary = boundary(etag);
    let mut chunks = Vec::with_capacity(2 * ranges.len() + 1);
    let mut content_length = 0;
    for (index, range) in ranges.iter().enumerate() {
        // RFC 2046 §5.1.1: each delimiter is CRLF "--" boundary, but with an empty preamble the
        // body may start with the first boundary line itself.
        let line_break = if index == 0 { "" } else { "\r\n" };
        let header = format!(
            "{line_break}--{boundary}\r\nContent-Type: {content_type}\r\n\
             Content-Range: bytes {}-{}/{complete_len}\r\n\r\n",
            range.start, range.end
        );
        content_length += header.len() as u64 + range.len();
        chunks.push(Chunk::Literal(header.into_bytes()));
        chunks.push(Chunk::Span { start: range.start, len: range.len() });
    }
    let close = format!("\r\n--{boundary}--\r\n");
    content_length += close.len() as u64;
    chunks.push(Chunk::Literal(close.into_bytes()));
    Byteranges {
        media_type: format!("multipart/byteranges; boundary={boundary}"),
        content_length,
        chunks,
    }
}

/// `tapedeck-` and the 64-bit FNV-1a hash of the entity-tag in hex: 25 characters, all of them
/// `bchars` (RFC 2046 §5.1.1) that need no quoting in the media type. Audio data could hold the
/// string only by design, and then only breaks its own reply.
fn boundary(etag: &str) -> String {
    const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = etag
        .bytes()
        .fold(FNV_OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME));
    format!("tapedeck-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::{boundary, byteranges};
    use crate::range::ByteRange;
    use crate::reply::Chunk;

    /// 1000 bytes, `X000XXXXXX` to `X099XXXXXX`, as in nginx's t/range.t.
    fn data() -> Vec<u8> {
        (0..100).flat_map(|i| format!("X{i:03}XXXXXX").into_bytes()).collect()
    }

    /// The body the glue would write: literals as they are, spans copied from `data`.
    fn assemble(chunks: &[Chunk], data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for chunk in chunks {
            match chunk {
                Chunk::Literal(bytes) => body.extend_from_slice(bytes),
                Chunk::Span { start, len } => {
                    let start = usize::try_from(*start).unwrap();
                    body.extend_from_slice(&data[start..start + usize::try_from(*len).unwrap()]);
                }
            }
        }
        body
    }

    fn find(haystack: &[u8], needle: &[u8], from: usize) -> usize {
        from + haystack[from..]
            .windows(needle.len())
            .position(|window| window == needle)
            .expect("delimiter present")
    }

    /// Splits a multipart body the way a client does, at each CRLF "--" boundary, into
    /// (part headers, part bytes).
    fn parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
        let delimiter = format!("\r\n--{boundary}").into_bytes();
        let first = &delimiter[2..];
        assert!(body.starts_with(first), "the body opens with the first boundary");
        let mut at = first.len();
        let mut parts = Vec::new();
        loop {
            assert_eq!(&body[at..at + 2], b"\r\n");
            let headers_end = find(body, b"\r\n\r\n", at + 2);
            let headers = String::from_utf8(body[at + 2..headers_end].to_vec()).unwrap();
            let content_end = find(body, &delimiter, headers_end + 4);
            parts.push((headers, body[headers_end + 4..content_end].to_vec()));
            at = content_end + delimiter.len();
            if body[at..].starts_with(b"--") {
                assert_eq!(&body[at..], b"--\r\n", "nothing follows the close delimiter");
                return parts;
            }
        }
    }

    #[test]
    fn content_length_and_parts_match_the_assembled_body() {
        let data = data();
        let ranges = [(0, 9), (500, 599), (990, 999)].map(|(start, end)| ByteRange { start, end });
        let framed = byteranges(r#""5f.0-3e8""#, "audio/mpeg", &ranges, 1000);
        let body = assemble(&framed.chunks, &data);
        assert_eq!(framed.content_length, body.len() as u64);

        let boundary = framed.media_type.strip_prefix("multipart/byteranges; boundary=").unwrap();
        let parts = parts(&body, boundary);
        assert_eq!(parts.len(), ranges.len());
        for ((headers, bytes), range) in parts.iter().zip(&ranges) {
            let want = format!(
                "Content-Type: audio/mpeg\r\nContent-Range: bytes {}-{}/1000",
                range.start, range.end
            );
            assert_eq!(headers, &want);
            let (start, end) = (range.start as usize, range.end as usize);
            assert_eq!(bytes.as_slice(), &data[start..=end]);
        }
    }

    #[test]
    fn chunks_alternate_part_headers_and_spans() {
        let ranges = [ByteRange { start: 0, end: 0 }, ByteRange { start: 999, end: 999 }];
        let framed = byteranges(r#""A""#, "audio/flac", &ranges, 1000);
        let spans: Vec<(u64, u64)> = framed
            .chunks
            .iter()
            .filter_map(|chunk| match chunk {
                Chunk::Span { start, len } => Some((*start, *len)),
                Chunk::Literal(_) => None,
            })
            .collect();
        assert_eq!(spans, [(0, 1), (999, 1)]);
        assert!(
            matches!(framed.chunks.last(), Some(Chunk::Literal(close)) if close.ends_with(b"--\r\n"))
        );
    }

    #[test]
    fn boundary_is_deterministic_long_and_safe() {
        let tag = r#""53ab02f2.7b-8""#;
        assert_eq!(boundary(tag), boundary(tag));
        assert_ne!(boundary(tag), boundary(r#""53ab02f2.7b-9""#));
        let b = boundary(tag);
        assert!((20..=70).contains(&b.len()), "{b}");
        assert!(b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'), "{b}");
        // FNV-1a of the empty string is its offset basis.
        assert_eq!(boundary(""), "tapedeck-cbf29ce484222325");
    }
}
