//! What a 206 says it holds: `Content-Range` values and `multipart/byteranges` bodies
//! (RFC 9110 §14.4, §14.6), parsed strictly so that a wrong offset or framing fails.

use super::assert_same_bytes;
use super::http::Response;

/// Asserts that `response` is the 206 of exactly `want` (inclusive ranges, in order) of
/// `full`, a representation of type `content_type`: one range as a plain 206 with its
/// `Content-Range`, several as `multipart/byteranges` whose every part is checked.
#[track_caller]
pub fn assert_ranges(
    response: &Response,
    full: &[u8],
    want: &[(u64, u64)],
    content_type: &str,
    what: &str,
) {
    let len = full.len() as u64;
    let slice = |a: u64, b: u64| &full[a as usize..=b as usize];
    assert_eq!(response.status, 206, "{what}: {}", response.summary());
    assert_eq!(response.header("accept-ranges").as_deref(), Some("bytes"), "{what}");
    if let [(a, b)] = want {
        let expected = format!("bytes {a}-{b}/{len}");
        assert_eq!(response.header("content-range"), Some(expected), "{what}");
        assert_eq!(response.content_length(), b - a + 1, "{what}: Content-Length");
        let got_type = response.header("content-type");
        assert_eq!(got_type.as_deref(), Some(content_type), "{what}: Content-Type");
        assert_same_bytes(&response.body, slice(*a, *b), what);
        return;
    }
    assert_eq!(response.header("content-range"), None, "{what}: Content-Range on a multipart");
    let parts = multipart_parts(response, what);
    let got: Vec<(u64, u64, u64)> = parts.iter().map(|p| (p.first, p.last, p.complete)).collect();
    let wanted: Vec<(u64, u64, u64)> = want.iter().map(|&(a, b)| (a, b, len)).collect();
    assert_eq!(got, wanted, "{what}: parts");
    for part in &parts {
        assert_eq!(part.header("content-type"), Some(content_type), "{what}: a part's type");
        let part_what = format!("{what}: part {}-{}", part.first, part.last);
        assert_same_bytes(&part.data, slice(part.first, part.last), &part_what);
    }
}

/// The parts of a `multipart/byteranges` response, or a panic saying what is wrong.
#[track_caller]
pub fn multipart_parts(response: &Response, what: &str) -> Vec<Part> {
    let content_type = response.expect_header("content-type");
    parse_byteranges(&content_type, &response.body)
        .unwrap_or_else(|e| panic!("{what}: bad multipart body ({e}): {}", response.summary()))
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    /// First byte, last byte, complete length, from the part's `Content-Range`.
    pub first: u64,
    pub last: u64,
    pub complete: u64,
    pub data: Vec<u8>,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Parses a `multipart/byteranges` body with the boundary from `content_type`. Each part's
/// length comes from its `Content-Range`, so a boundary string inside the data cannot
/// confuse the parser; a part whose data is not followed by a delimiter is an error.
pub fn parse_byteranges(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let (media_type, params) = content_type.split_once(';').ok_or("no boundary parameter")?;
    if !media_type.trim().eq_ignore_ascii_case("multipart/byteranges") {
        return Err(format!("media type `{media_type}`"));
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .ok_or("no boundary parameter")?;
    let delimiter = format!("--{boundary}");
    let start = find(body, delimiter.as_bytes()).ok_or("no first delimiter")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or("delimiter not followed by CRLF")?;
        let mut fields = [httparse::EMPTY_HEADER; 8];
        let (head_len, fields) = match httparse::parse_headers(rest, &mut fields) {
            Ok(httparse::Status::Complete(parsed)) => parsed,
            Ok(httparse::Status::Partial) => return Err("part head not terminated".into()),
            Err(e) => return Err(format!("bad part head: {e}")),
        };
        let mut headers = Vec::new();
        for field in fields {
            let value = std::str::from_utf8(field.value).map_err(|_| "part head not UTF-8")?;
            headers.push((field.name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let range = headers
            .iter()
            .find(|(n, _)| n == "content-range")
            .map(|(_, v)| v.clone())
            .ok_or("part without Content-Range")?;
        let (first, last, complete) = parse_content_range(&range)?;
        rest = &rest[head_len..];
        let len = usize::try_from(last - first + 1).map_err(|_| "part too long")?;
        let data = rest.get(..len).ok_or(format!("part {range} cut short"))?.to_vec();
        rest = rest[len..]
            .strip_prefix(b"\r\n")
            .ok_or_else(|| format!("part {range} data not followed by CRLF"))?;
        rest = rest
            .strip_prefix(delimiter.as_bytes())
            .ok_or_else(|| format!("part {range} data not followed by the delimiter"))?;
        parts.push(Part { headers, first, last, complete, data });
    }
}

/// Parses `bytes FIRST-LAST/COMPLETE`.
pub fn parse_content_range(value: &str) -> Result<(u64, u64, u64), String> {
    let bad = || format!("bad Content-Range `{value}`");
    let spec = value.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, complete) = spec.split_once('/').ok_or_else(bad)?;
    let (first, last) = range.split_once('-').ok_or_else(bad)?;
    let number = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let (first, last, complete) = (number(first)?, number(last)?, number(complete)?);
    if first > last || last >= complete {
        return Err(bad());
    }
    Ok((first, last, complete))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
