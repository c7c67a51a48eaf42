//! `headers::RequestHeaders`, `precondition::evaluate` and `respond::serve`. Input: one field
//! per line, `name:value` (one space after the colon is dropped), as wasi-http hands them over:
//! lower-case names, values of any bytes, repeats allowed. The pseudo-fields `@etag`, `@mtime`
//! (seconds) and `@len` describe the representation instead; without them it is 1000 bytes,
//! modified at 1403716338, tagged by `etag::strong`.

use tapedeck_guest::etag;
use tapedeck_guest::headers::RequestHeaders;
use tapedeck_guest::precondition::{self, Conditionals, Verdict};
use tapedeck_guest::range::{self, RangePlan};
use tapedeck_guest::reply::{Body, Chunk, Method, Reply, Status};
use tapedeck_guest::respond::{self, Representation};

/// The last second an HTTP-date can write; `respond` clamps Last-Modified to it.
const LATEST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// The request fields the policy reads, in wasi-http's spelling.
const FIELDS: [&str; 6] =
    ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range", "range"];

/// Checks one request against one representation.
pub fn check(data: &[u8]) {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let (mut own_etag, mut modified_secs, mut len) = (None, 1_403_716_338, 1000);
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&line[..colon]) else {
            continue;
        };
        let value = &line[colon + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let text = std::str::from_utf8(value).ok();
        match name {
            "@etag" => own_etag = text.map(str::to_owned),
            "@mtime" => modified_secs = text.and_then(|t| t.parse().ok()).unwrap_or(modified_secs),
            "@len" => len = text.and_then(|t| t.parse().ok()).unwrap_or(len),
            _ => fields.push((name.to_owned(), value.to_vec())),
        }
    }
    let strong = own_etag.is_none();
    let etag = own_etag.unwrap_or_else(|| etag::strong(len, modified_secs, 0));
    let headers = RequestHeaders::from_fields(fields.clone());
    check_joined(&fields, &headers);

    let c = headers.conditionals();
    let secs = modified_secs.min(LATEST_HTTP_DATE_SECS);
    let verdict = precondition::evaluate(&c, &etag, secs);
    assert_eq!(precondition::evaluate(&c, &etag, secs), verdict, "deterministic");
    check_verdict(&c, &etag, secs, verdict);

    let rep = Representation {
        file_name: "01 - Café.mp3",
        content_type: "audio/mpeg",
        len,
        modified_secs,
        etag: &etag,
    };
    let get = respond::serve(Method::Get, &c, headers.range(), &rep);
    let head = respond::serve(Method::Head, &c, headers.range(), &rep);
    assert_eq!(head, Reply { body: Body::Empty, ..get.clone() }, "HEAD is GET without a body");
    check_reply(&get, verdict, headers.range(), len);
    if strong {
        check_revalidation(&get, &etag, secs);
    }
}

/// Each field the policy reads is its values joined with `, ` in order (RFC 9110 §5.3), or
/// absent when there are none or one is not UTF-8.
fn check_joined(fields: &[(String, Vec<u8>)], headers: &RequestHeaders) {
    let c = headers.conditionals();
    let got = [c.if_match, c.if_none_match, c.if_modified_since, c.if_unmodified_since, c.if_range];
    for (name, got) in FIELDS.iter().zip(got.into_iter().chain([headers.range()])) {
        let values: Vec<&[u8]> =
            fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_slice()).collect();
        let texts: Option<Vec<&str>> = values.iter().map(|v| std::str::from_utf8(v).ok()).collect();
        let want = texts.filter(|t| !t.is_empty()).map(|t| t.join(", "));
        assert_eq!(got, want.as_deref(), "{name}");
    }
}

fn blank(value: Option<&str>) -> bool {
    value.is_none_or(|v| v.trim_matches([' ', '\t']).is_empty())
}

/// The verdict follows RFC 9110 §13.2.2 wherever that can be told without re-deriving it.
fn check_verdict(c: &Conditionals, etag: &str, secs: u64, verdict: Verdict) {
    // A blank field counts as absent.
    let blanked = |c: Conditionals| precondition::evaluate(&c, etag, secs);
    for (field, cleared) in [
        (c.if_match, Conditionals { if_match: None, ..*c }),
        (c.if_none_match, Conditionals { if_none_match: None, ..*c }),
        (c.if_modified_since, Conditionals { if_modified_since: None, ..*c }),
        (c.if_unmodified_since, Conditionals { if_unmodified_since: None, ..*c }),
        (c.if_range, Conditionals { if_range: None, ..*c }),
    ] {
        if field.is_some() && blank(field) {
            assert_eq!(blanked(cleared), verdict, "blank {field:?}");
        }
    }
    // Only If-Match and If-Unmodified-Since fail a request; only If-None-Match and
    // If-Modified-Since make a 304; only If-Range stops a Range.
    if blank(c.if_match) && blank(c.if_unmodified_since) {
        assert_ne!(verdict, Verdict::PreconditionFailed);
    }
    if blank(c.if_none_match) && blank(c.if_modified_since) {
        assert_ne!(verdict, Verdict::NotModified);
    }
    if blank(c.if_range) && verdict != Verdict::PreconditionFailed {
        assert_ne!(verdict, Verdict::Proceed { honor_range: false });
    }
    let star = |value: Option<&str>| value.is_some_and(|v| v.trim_matches([' ', '\t']) == "*");
    if star(c.if_match) {
        assert_ne!(verdict, Verdict::PreconditionFailed, "If-Match: *");
    }
    if star(c.if_none_match) && verdict != Verdict::PreconditionFailed {
        assert_eq!(verdict, Verdict::NotModified, "If-None-Match: *");
    }
}

/// The reply is the one the verdict and the Range plan call for, and its fields describe its
/// body exactly.
fn check_reply(reply: &Reply, verdict: Verdict, range: Option<&str>, len: u64) {
    let plan = match verdict {
        Verdict::Proceed { honor_range: true } => range.map(|header| range::plan(header, len)),
        _ => None,
    };
    let want = match (verdict, &plan) {
        (Verdict::PreconditionFailed, _) => Status::PreconditionFailed,
        (Verdict::NotModified, _) => Status::NotModified,
        (_, Some(RangePlan::Single(_) | RangePlan::Multi(_))) => Status::PartialContent,
        (_, Some(RangePlan::Unsatisfiable)) => Status::RangeNotSatisfiable,
        _ => Status::Ok,
    };
    assert_eq!(reply.status, want, "{verdict:?}, {plan:?}");
    let header = |name: &str| {
        reply.headers.iter().find(|(field, _)| *field == name).map(|(_, value)| value.as_str())
    };
    let content_length = header("content-length").map(|v| v.parse::<u64>().expect("a number"));
    match &reply.body {
        Body::Empty => {
            assert_eq!(reply.status, Status::NotModified);
            assert_eq!(content_length, None, "a 304 has no Content-Length");
        }
        Body::Literal(json) => {
            assert_eq!(content_length, Some(json.len() as u64));
            assert_eq!(header("content-type"), Some("application/json"));
        }
        Body::Representation(chunks) => {
            let mut total: u64 = 0;
            for chunk in chunks {
                total += match chunk {
                    Chunk::Literal(bytes) => bytes.len() as u64,
                    Chunk::Span { start, len: span } => {
                        assert!(span.checked_add(*start).is_some_and(|end| end <= len));
                        *span
                    }
                };
            }
            assert_eq!(content_length, Some(total), "Content-Length is the body's length");
        }
    }
    match plan {
        Some(RangePlan::Single(range)) => {
            let want = format!("bytes {}-{}/{len}", range.start, range.end);
            assert_eq!(header("content-range"), Some(want.as_str()));
        }
        Some(RangePlan::Unsatisfiable) => {
            assert_eq!(header("content-range"), Some(format!("bytes */{len}").as_str()));
        }
        _ => {}
    }
}

/// With the server's own entity-tag, every field value is visible ASCII or a space, so none
/// can end its line early; and a client that sends back the validators it was given
/// revalidates its copy.
fn check_revalidation(reply: &Reply, etag: &str, secs: u64) {
    for (name, value) in &reply.headers {
        assert!(!value.is_empty() && value.bytes().all(|b| (0x20..0x7f).contains(&b)), "{name}");
    }
    let header = |name: &str| {
        reply.headers.iter().find(|(field, _)| *field == name).map(|(_, value)| value.as_str())
    };
    let Some(last_modified) = header("last-modified") else {
        return;
    };
    assert_eq!(header("etag"), Some(etag));
    let none = Conditionals::default();
    let cases = [
        (Conditionals { if_none_match: Some(etag), ..none }, Verdict::NotModified),
        (Conditionals { if_modified_since: Some(last_modified), ..none }, Verdict::NotModified),
        (Conditionals { if_match: Some(etag), ..none }, Verdict::Proceed { honor_range: true }),
        (
            Conditionals { if_unmodified_since: Some(last_modified), ..none },
            Verdict::Proceed { honor_range: true },
        ),
        (Conditionals { if_range: Some(etag), ..none }, Verdict::Proceed { honor_range: true }),
        (
            Conditionals { if_range: Some(last_modified), ..none },
            Verdict::Proceed { honor_range: true },
        ),
    ];
    for (c, want) in cases {
        assert_eq!(precondition::evaluate(&c, etag, secs), want, "{c:?}");
    }
}
