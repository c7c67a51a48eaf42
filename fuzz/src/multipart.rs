//! `multipart::byteranges`. Input lines: the representation's length, its entity-tag, a file
//! name (its audio type is the parts' Content-Type, `audio/wav` if none), then one `start-end`
//! range per line.
//!
//! The ranges kept are those the planner could make: inside the length, each after the one
//! before. Unlike the planner's, they may be adjacent and more than 32, to check the framing
//! past what it sends. The length is at most `i64::MAX`, the largest file (`off_t`) or
//! transcode there is: the body's length, framing included, then always fits a `u64`.

use tapedeck_guest::multipart;
use tapedeck_guest::range::ByteRange;
use tapedeck_guest::reply::Chunk;
use tapedeck_guest::{mime, wav};

/// More parts than the planner ever sends (32), to check the framing past it.
const MAX_RANGES: usize = 64;

/// Bodies up to this size are assembled and split again the way a client does.
const ASSEMBLE_LIMIT: u64 = 1 << 16;

/// Checks one framing.
pub fn check(data: &[u8]) {
    let Some(lines) = crate::input::lines(data) else {
        return;
    };
    let [len, etag, file_name, ranges @ ..] = lines.as_slice() else {
        return;
    };
    let Some(len) = len.parse::<u64>().ok().filter(|&len| len <= i64::MAX as u64) else {
        return;
    };
    let content_type = mime::audio_type(file_name).unwrap_or(wav::MEDIA_TYPE);
    let mut kept: Vec<ByteRange> = Vec::new();
    for (start, end) in ranges.iter().filter_map(|line| crate::input::pair(line)) {
        let after_the_last = kept.last().is_none_or(|last| start > last.end);
        if start <= end && end < len && after_the_last && kept.len() < MAX_RANGES {
            kept.push(ByteRange { start, end });
        }
    }
    let ranges = kept;
    let framed = multipart::byteranges(etag, content_type, &ranges, len);
    // HEAD and GET frame the same representation alike, so announce the same fields.
    assert_eq!(multipart::byteranges(etag, content_type, &ranges, len), framed, "deterministic");

    let boundary = framed
        .media_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("media type {:?}", framed.media_type));
    // RFC 2046 §5.1.1: 1 to 70 bchars, not ending in a space; these need no quoting.
    assert!((1..=70).contains(&boundary.len()), "{boundary:?}");
    assert!(boundary.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{boundary:?}");

    // A part header, then its span, for each range in order; then the close delimiter.
    assert_eq!(framed.chunks.len(), 2 * ranges.len() + 1, "{ranges:?}");
    for (index, range) in ranges.iter().enumerate() {
        let Chunk::Literal(header) = &framed.chunks[2 * index] else {
            panic!("part {index} has no header");
        };
        let opening = if index == 0 { "" } else { "\r\n" };
        let want = format!(
            "{opening}--{boundary}\r\nContent-Type: {content_type}\r\n\
             Content-Range: bytes {}-{}/{len}\r\n\r\n",
            range.start, range.end
        );
        assert_eq!(String::from_utf8_lossy(header), want, "part {index}");
        let span = Chunk::Span { start: range.start, len: range.len() };
        assert_eq!(framed.chunks[2 * index + 1], span, "part {index}");
    }
    let close = format!("\r\n--{boundary}--\r\n").into_bytes();
    assert_eq!(framed.chunks.last(), Some(&Chunk::Literal(close)));

    // Content-Length is exactly what the chunks add up to.
    let total: u128 = framed.chunks.iter().map(chunk_len).sum();
    assert_eq!(u128::from(framed.content_length), total, "{ranges:?}");
    if framed.content_length <= ASSEMBLE_LIMIT {
        let body = assemble(&framed.chunks);
        assert_eq!(split(&body, boundary), ranges, "{ranges:?}");
    }
}

fn chunk_len(chunk: &Chunk) -> u128 {
    match chunk {
        Chunk::Literal(bytes) => bytes.len() as u128,
        Chunk::Span { len, .. } => u128::from(*len),
    }
}

/// The byte at `offset` of a representation that never holds a CRLF, so never a delimiter.
fn byte_at(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// The body the glue would write, spans filled from [`byte_at`].
fn assemble(chunks: &[Chunk]) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Literal(bytes) => body.extend_from_slice(bytes),
            Chunk::Span { start, len } => body.extend((*start..start + len).map(byte_at)),
        }
    }
    body
}

/// Splits `body` the way a client does, at each CRLF `--boundary`, and reads each part's
/// Content-Range; checks each part's bytes are those of its range.
fn split(body: &[u8], boundary: &str) -> Vec<ByteRange> {
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter opens the body without its CRLF; with no parts the body is the
    // close delimiter alone, CRLF included.
    let mut at = if body.starts_with(&delimiter[2..]) { 0 } else { 2 };
    let mut ranges = Vec::new();
    loop {
        assert!(body[at..].starts_with(&delimiter[2..]), "a delimiter at {at}");
        at += delimiter.len() - 2;
        if body[at..] == *b"--\r\n" {
            return ranges;
        }
        assert!(body[at..].starts_with(b"\r\n"), "a line break after the delimiter at {at}");
        let head_end = find(body, b"\r\n\r\n", at).expect("part headers end");
        let head = std::str::from_utf8(&body[at + 2..head_end]).expect("headers are text");
        let value = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Range: bytes "))
            .expect("a Content-Range");
        let (span, _) = value.split_once('/').expect("a complete length");
        let (start, end) = crate::input::pair(span).expect("first-last");
        let content_end = find(body, &delimiter, head_end + 4).expect("a delimiter after the part");
        let content = &body[head_end + 4..content_end];
        assert!(content.iter().copied().eq((start..=end).map(byte_at)), "part {start}-{end}");
        ranges.push(ByteRange { start, end });
        at = content_end + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let found = haystack.get(from..)?.windows(needle.len()).position(|window| window == needle);
    found.map(|at| from + at)
}
