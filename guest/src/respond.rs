//! Decides the answer to a GET or HEAD of a representation, then renders it as a [`Reply`].

use std::time::{Duration, UNIX_EPOCH};

use crate::precondition::{self, Conditionals, Verdict};
use crate::range::{self, ByteRange, RangePlan};
use crate::reply::{Body, Chunk, Method, Reply, Status};
use crate::{disposition, multipart};

/// Files may be re-tagged in place, so caches may keep them but must revalidate before each
/// use (`no-cache`, RFC 9111 §5.2.2.4); the ETag makes that a cheap 304.
const CACHE_CONTROL: &str = "public, no-cache";

/// 9999-12-31T23:59:59Z, the last instant an HTTP-date can write (and `httpdate` panics past it).
const LATEST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// What the glue knows about the bytes it can send: a file, or its transcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Representation<'a> {
    /// The name offered in Content-Disposition, usually the last path segment.
    pub file_name: &'a str,
    /// The media type, from [`crate::mime::audio_type`].
    pub content_type: &'a str,
    /// The length in bytes.
    pub len: u64,
    /// The modification time in whole seconds since the Unix epoch.
    pub modified_secs: u64,
    /// The entity-tag, from [`crate::etag::strong`] or [`crate::etag::variant`].
    pub etag: &'a str,
}

/// The answer decided before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Full,
    Partial(ByteRange),
    Multipart(Vec<ByteRange>),
    NotModified,
    PreconditionFailed,
    RangeNotSatisfiable,
}

/// Answers a GET or HEAD of `rep`: preconditions first (RFC 9110 §13.2.2), then the Range
/// if they allow it (§14.2), then the status and header fields. HEAD gets exactly GET's status
/// and header fields, Range included, as Go's `ServeContent` does.
pub fn serve(
    method: Method,
    conditionals: &Conditionals,
    range: Option<&str>,
    rep: &Representation,
) -> Reply {
    render(decide(conditionals, range, rep), rep).for_method(method)
}

/// The answer to a GET or HEAD of `rep` when its preconditions alone decide it (a 304 or a
/// 412), as [`serve`] would give it; `None` when the representation is to be sent. `rep.len`
/// is not read, so a representation that is costly to make (an HLS segment, whose length is
/// known once it is encoded) need not be made for a client whose copy is current.
pub fn decided_by_preconditions(
    method: Method,
    conditionals: &Conditionals,
    rep: &Representation,
) -> Option<Reply> {
    let outcome = match precondition::evaluate(conditionals, rep.etag, last_modified_secs(rep)) {
        Verdict::Proceed { .. } => return None,
        Verdict::NotModified => Outcome::NotModified,
        Verdict::PreconditionFailed => Outcome::PreconditionFailed,
    };
    Some(render(outcome, rep).for_method(method))
}

fn decide(conditionals: &Conditionals, range: Option<&str>, rep: &Representation) -> Outcome {
    match precondition::evaluate(conditionals, rep.etag, last_modified_secs(rep)) {
        Verdict::PreconditionFailed => Outcome::PreconditionFailed,
        Verdict::NotModified => Outcome::NotModified,
        // §13.1.5: when If-Range does not match, the Range is ignored and all of it is sent.
        Verdict::Proceed { honor_range } => match range.filter(|_| honor_range) {
            None => Outcome::Full,
            Some(header) => match range::plan(header, rep.len) {
                RangePlan::Ignore => Outcome::Full,
                RangePlan::Single(range) => Outcome::Partial(range),
                RangePlan::Multi(ranges) => Outcome::Multipart(ranges),
                RangePlan::Unsatisfiable => Outcome::RangeNotSatisfiable,
            },
        },
    }
}

fn render(outcome: Outcome, rep: &Representation) -> Reply {
    let (status, content_type, content_length, content_range, chunks) = match outcome {
        Outcome::Full => {
            let span = Chunk::Span { start: 0, len: rep.len };
            (Status::Ok, rep.content_type.to_owned(), rep.len, None, vec![span])
        }
        // §15.3.7.1: a single part is described by Content-Range in the header section.
        Outcome::Partial(range) => {
            let content_range =
                ["bytes ", &decimal(range.start), "-", &decimal(range.end), "/", &decimal(rep.len)]
                    .concat();
            let span = Chunk::Span { start: range.start, len: range.len() };
            let content_type = rep.content_type.to_owned();
            (Status::PartialContent, content_type, range.len(), Some(content_range), vec![span])
        }
        // §15.3.7.2: each part carries its own Content-Range; the reply has none.
        Outcome::Multipart(ranges) => {
            let framed = multipart::byteranges(rep.etag, rep.content_type, &ranges, rep.len);
            (Status::PartialContent, framed.media_type, framed.content_length, None, framed.chunks)
        }
        // §15.4.5: a 304 carries the fields a 200 would for cache updates, and no content.
        Outcome::NotModified => {
            return Reply {
                status: Status::NotModified,
                headers: validators(rep),
                body: Body::Empty,
            };
        }
        Outcome::PreconditionFailed => {
            return Reply::error(Status::PreconditionFailed, "Precondition failed");
        }
        // §15.5.17: a 416 for byte ranges should say the current length.
        Outcome::RangeNotSatisfiable => {
            return Reply::error(Status::RangeNotSatisfiable, "Range not satisfiable")
                .with_header("content-range", format!("bytes */{}", rep.len));
        }
    };
    let mut headers =
        vec![("content-type", content_type), ("content-length", decimal(content_length))];
    headers.extend(content_range.map(|value| ("content-range", value)));
    headers.push(("content-disposition", disposition::inline(rep.file_name)));
    headers.extend(validators(rep));
    let body = Body::Representation(chunks);
    Reply { status, headers, body }
}

/// `n` in decimal, without `core::fmt` (see the crate's doc).
fn decimal(n: u64) -> String {
    itoa::Buffer::new().format(n).to_owned()
}

/// The header fields of every 200, 206 and 304.
fn validators(rep: &Representation) -> Vec<(&'static str, String)> {
    let modified = UNIX_EPOCH + Duration::from_secs(last_modified_secs(rep));
    vec![
        ("accept-ranges", "bytes".to_owned()),
        ("etag", rep.etag.to_owned()),
        ("last-modified", httpdate::fmt_http_date(modified)),
        ("cache-control", CACHE_CONTROL.to_owned()),
    ]
}

/// The Last-Modified of `rep` in seconds, clamped to what an HTTP-date can write, so that the
/// date sent and the date compared with If-Modified-Since are the same.
fn last_modified_secs(rep: &Representation) -> u64 {
    rep.modified_secs.min(LATEST_HTTP_DATE_SECS)
}

#[cfg(test)]
mod tests {
    use super::{Representation, decided_by_preconditions, serve};
    use crate::disposition;
    use crate::precondition::Conditionals;
    use crate::reply::Status::{
        NotModified, PartialContent, PreconditionFailed, RangeNotSatisfiable,
    };
    use crate::reply::{Body, Chunk, Method, Reply, Status};

    /// Last-Modified of every row: Wed, 25 Jun 2014 17:12:18 GMT.
    const T: u64 = 1_403_716_338;
    const DATE: &str = "Wed, 25 Jun 2014 17:12:18 GMT";
    const FILE_NAME: &str = "01 - Café.mp3";

    enum Want {
        /// A representation body whose spans are these (start, len), literals aside.
        Spans(&'static [(u64, u64)]),
        /// A JSON error with this message.
        Json(&'static str),
        /// No body, even for GET.
        Nothing,
    }
    use Want::{Json, Nothing, Spans};

    struct Case {
        name: &'static str,
        len: u64,
        etag: &'static str,
        conditionals: Conditionals<'static>,
        range: Option<&'static str>,
        status: Status,
        /// Header fields to check: `None` means the field must be absent.
        headers: &'static [(&'static str, Option<&'static str>)],
        body: Want,
    }

    const NONE: Conditionals<'static> = Conditionals::NONE;
    const BASE: Case = Case {
        name: "",
        len: 8,
        etag: r#""A""#,
        conditionals: NONE,
        range: None,
        status: Status::Ok,
        headers: &[],
        body: Spans(&[(0, 8)]),
    };
    #[rustfmt::skip]
    const WHOLE: &[(&str, Option<&str>)] = &[("content-type", Some("audio/mpeg")), ("content-range", None)];
    #[rustfmt::skip]
    const FIRST_FIVE: &[(&str, Option<&str>)] = &[("content-type", Some("audio/mpeg")), ("content-range", Some("bytes 0-4/8"))];
    const NOT_MODIFIED: &[(&str, Option<&str>)] =
        &[("content-length", None), ("content-type", None)];

    /// Rows named `go:` are net/http's `TestServeContent` cases on its 8-byte style.css.
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        Case { name: "go: with_last_modified", headers: WHOLE, ..BASE },
        Case { name: "go: not_modified_modtime", conditionals: Conditionals { if_modified_since: Some(DATE), ..NONE }, status: NotModified, headers: NOT_MODIFIED, body: Nothing, ..BASE },
        Case { name: "go: not_modified_etag", conditionals: Conditionals { if_none_match: Some(r#""A""#), ..NONE }, status: NotModified, headers: NOT_MODIFIED, body: Nothing, ..BASE },
        Case { name: "go: not_modified_etag_no_seek", conditionals: Conditionals { if_none_match: Some(r#""baz", W/"A""#), ..NONE }, status: NotModified, headers: NOT_MODIFIED, body: Nothing, ..BASE },
        Case { name: "go: if_none_match_mismatch", conditionals: Conditionals { if_none_match: Some(r#""a""#), ..NONE }, headers: WHOLE, ..BASE },
        Case { name: "go: if_none_match_malformed", conditionals: Conditionals { if_none_match: Some(","), ..NONE }, headers: WHOLE, ..BASE },
        Case { name: "go: range_good", range: Some("bytes=0-4"), status: PartialContent, headers: FIRST_FIVE, body: Spans(&[(0, 5)]), ..BASE },
        Case { name: "go: range_match", conditionals: Conditionals { if_range: Some(r#""A""#), ..NONE }, range: Some("bytes=0-4"), status: PartialContent, headers: FIRST_FIVE, body: Spans(&[(0, 5)]), ..BASE },
        Case { name: "go: range_match_weak_etag", etag: r#"W/"A""#, conditionals: Conditionals { if_range: Some(r#"W/"A""#), ..NONE }, range: Some("bytes=0-4"), headers: WHOLE, ..BASE },
        Case { name: "go: range_no_overlap", range: Some("bytes=10-20"), status: RangeNotSatisfiable, headers: &[("content-range", Some("bytes */8")), ("content-type", Some("application/json")), ("etag", None)], body: Json("Range not satisfiable"), ..BASE },
        Case { name: "go: range_no_match", conditionals: Conditionals { if_range: Some(r#""B""#), ..NONE }, range: Some("bytes=0-4"), headers: WHOLE, ..BASE },
        Case { name: "go: range_with_modtime", conditionals: Conditionals { if_range: Some(DATE), ..NONE }, range: Some("bytes=0-4"), status: PartialContent, headers: FIRST_FIVE, body: Spans(&[(0, 5)]), ..BASE },
        Case { name: "go: range_with_modtime_mismatch", conditionals: Conditionals { if_range: Some("Wed, 25 Jun 2014 17:12:19 GMT"), ..NONE }, range: Some("bytes=0-4"), headers: WHOLE, ..BASE },
        Case { name: "go: ifmatch_matches", conditionals: Conditionals { if_match: Some(r#""Z", "A""#), ..NONE }, headers: WHOLE, ..BASE },
        Case { name: "go: ifmatch_star", conditionals: Conditionals { if_match: Some("*"), ..NONE }, headers: WHOLE, ..BASE },
        Case { name: "go: ifmatch_failed", conditionals: Conditionals { if_match: Some(r#""B""#), ..NONE }, status: PreconditionFailed, headers: &[("content-type", Some("application/json")), ("etag", None)], body: Json("Precondition failed"), ..BASE },
        Case { name: "go: ifmatch_fails_on_weak_etag", etag: r#"W/"A""#, conditionals: Conditionals { if_match: Some(r#"W/"A""#), ..NONE }, status: PreconditionFailed, body: Json("Precondition failed"), ..BASE },
        Case { name: "go: if_unmodified_since_true", conditionals: Conditionals { if_unmodified_since: Some(DATE), ..NONE }, headers: WHOLE, ..BASE },
        Case { name: "go: if_unmodified_since_false", conditionals: Conditionals { if_unmodified_since: Some("Wed, 25 Jun 2014 17:12:16 GMT"), ..NONE }, status: PreconditionFailed, body: Json("Precondition failed"), ..BASE },
        Case { name: "If-None-Match *", conditionals: Conditionals { if_none_match: Some("*"), ..NONE }, status: NotModified, headers: NOT_MODIFIED, body: Nothing, ..BASE },
        Case { name: "Chromium's first request", range: Some("bytes=0-"), status: PartialContent, headers: &[("content-length", Some("8")), ("content-range", Some("bytes 0-7/8"))], body: Spans(&[(0, 8)]), ..BASE },
        Case { name: "suffix range", range: Some("bytes=-3"), status: PartialContent, headers: &[("content-length", Some("3")), ("content-range", Some("bytes 5-7/8"))], body: Spans(&[(5, 3)]), ..BASE },
        Case { name: "malformed Range is ignored", range: Some("bytes=4-2"), headers: WHOLE, ..BASE },
        Case { name: "other unit is ignored", range: Some("items=0-1"), headers: WHOLE, ..BASE },
        Case { name: "precondition before range", conditionals: Conditionals { if_match: Some(r#""B""#), ..NONE }, range: Some("bytes=0-4"), status: PreconditionFailed, body: Json("Precondition failed"), ..BASE },
        Case { name: "not modified before range", conditionals: Conditionals { if_none_match: Some(r#""A""#), ..NONE }, range: Some("bytes=0-4"), status: NotModified, headers: NOT_MODIFIED, body: Nothing, ..BASE },
        Case { name: "If-Range mismatch turns 416 into 200", conditionals: Conditionals { if_range: Some(r#""B""#), ..NONE }, range: Some("bytes=10-20"), headers: WHOLE, ..BASE },
        Case { name: "If-Range weak tag of strong etag", conditionals: Conditionals { if_range: Some(r#"W/"A""#), ..NONE }, range: Some("bytes=0-4"), headers: WHOLE, ..BASE },
        Case { name: "If-Range without Range", conditionals: Conditionals { if_range: Some(r#""B""#), ..NONE }, headers: WHOLE, ..BASE },
        Case { name: "empty file", len: 0, headers: &[("content-length", Some("0"))], body: Spans(&[(0, 0)]), ..BASE },
        Case { name: "empty file with Range", len: 0, range: Some("bytes=0-"), status: RangeNotSatisfiable, headers: &[("content-range", Some("bytes */0"))], body: Json("Range not satisfiable"), ..BASE },
        Case { name: "two distant ranges", len: 1000, range: Some("bytes=0-9,990-999"), status: PartialContent, headers: &[("content-range", None)], body: Spans(&[(0, 10), (990, 10)]), ..BASE },
        Case { name: "near ranges coalesce", len: 1000, range: Some("bytes=0-9,50-59"), status: PartialContent, headers: &[("content-range", Some("bytes 0-59/1000"))], body: Spans(&[(0, 60)]), ..BASE },
        Case { name: "33 parts are too many", len: 10_000, range: Some("bytes=0-0,200-200,400-400,600-600,800-800,1000-1000,1200-1200,1400-1400,1600-1600,1800-1800,2000-2000,2200-2200,2400-2400,2600-2600,2800-2800,3000-3000,3200-3200,3400-3400,3600-3600,3800-3800,4000-4000,4200-4200,4400-4400,4600-4600,4800-4800,5000-5000,5200-5200,5400-5400,5600-5600,5800-5800,6000-6000,6200-6200,6400-6400"), body: Spans(&[(0, 10_000)]), ..BASE },
    ];

    /// (start, len) of each span and the total length of a representation body.
    fn spans_and_len(reply: &Reply) -> (Vec<(u64, u64)>, u64) {
        let Body::Representation(chunks) = &reply.body else { panic!("{:?}", reply.body) };
        let mut spans = Vec::new();
        let mut total = 0;
        for chunk in chunks {
            match chunk {
                Chunk::Literal(bytes) => total += bytes.len() as u64,
                Chunk::Span { start, len } => {
                    spans.push((*start, *len));
                    total += len;
                }
            }
        }
        (spans, total)
    }

    /// Serves a GET and a HEAD, checks that HEAD mirrors GET without a body, returns the GET.
    fn get(conditionals: &Conditionals, range: Option<&str>, rep: &Representation) -> Reply {
        let get = serve(Method::Get, conditionals, range, rep);
        let head = serve(Method::Head, conditionals, range, rep);
        assert_eq!(head, Reply { body: Body::Empty, ..get.clone() }, "HEAD mirrors GET");
        get
    }

    fn rep(len: u64, modified_secs: u64, etag: &str) -> Representation<'_> {
        let content_type = "audio/mpeg";
        Representation { file_name: FILE_NAME, content_type, len, modified_secs, etag }
    }

    #[test]
    fn serve_table_for_get_and_head() {
        for case in CASES {
            let name = case.name;
            let get = get(&case.conditionals, case.range, &rep(case.len, T, case.etag));
            assert_eq!(get.status, case.status, "{name}");
            let mut want: Vec<(&str, Option<String>)> = case
                .headers
                .iter()
                .map(|&(field, value)| (field, value.map(str::to_owned)))
                .collect();
            if matches!(get.status, Status::Ok | Status::PartialContent | Status::NotModified) {
                want.push(("etag", Some(case.etag.to_owned())));
                want.push(("last-modified", Some(DATE.to_owned())));
                want.push(("cache-control", Some("public, no-cache".to_owned())));
                want.push(("accept-ranges", Some("bytes".to_owned())));
            }
            match case.body {
                Spans(spans) => {
                    let (got, len) = spans_and_len(&get);
                    assert_eq!(got, spans, "{name}");
                    want.push(("content-length", Some(len.to_string())));
                    want.push(("content-disposition", Some(disposition::inline(FILE_NAME))));
                }
                Json(message) => {
                    let json = format!(r#"{{"error":"{message}"}}"#).into_bytes();
                    assert_eq!(get.body, Body::Literal(json), "{name}");
                    want.push(("content-type", Some("application/json".to_owned())));
                }
                Nothing => assert_eq!(get.body, Body::Empty, "{name}"),
            }
            for (field, value) in want {
                assert_eq!(get.header(field), value.as_deref(), "{name}: {field}");
            }
        }
    }

    #[test]
    fn multipart_reply_announces_its_boundary_and_exact_length() {
        let reply = get(&NONE, Some("bytes=-1,0-0"), &rep(1000, T, r#""A""#));
        let content_type = reply.header("content-type").unwrap();
        let boundary = content_type.strip_prefix("multipart/byteranges; boundary=").unwrap();
        let Body::Representation(chunks) = &reply.body else { panic!("{:?}", reply.body) };
        let part = "Content-Type: audio/mpeg\r\nContent-Range: bytes 0-0/1000\r\n\r\n";
        let first_part = format!("--{boundary}\r\n{part}").into_bytes();
        assert_eq!(chunks.first(), Some(&Chunk::Literal(first_part)));
        let (spans, len) = spans_and_len(&reply);
        assert_eq!(spans, [(0, 1), (999, 1)]);
        assert_eq!(reply.header("content-length"), Some(len.to_string().as_str()));
    }

    #[test]
    fn last_modified_at_the_epoch_and_far_future_clamped() {
        let epoch = get(&NONE, None, &rep(8, 0, r#""A""#));
        assert_eq!(epoch.header("last-modified"), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
        let last = "Fri, 31 Dec 9999 23:59:59 GMT";
        let future = get(&NONE, None, &rep(8, u64::MAX, r#""A""#));
        assert_eq!(future.header("last-modified"), Some(last));
        let revalidate = Conditionals { if_modified_since: Some(last), ..NONE };
        assert_eq!(get(&revalidate, None, &rep(8, u64::MAX, r#""A""#)).status, Status::NotModified);
    }

    #[test]
    fn preconditions_decide_alone_what_serve_would_without_the_length() {
        // Each case's conditionals, served with the true length and decided without it.
        for case in CASES.iter().filter(|case| case.range.is_none()) {
            let rep = Representation {
                file_name: FILE_NAME,
                content_type: "audio/mpeg",
                len: case.len,
                modified_secs: T,
                etag: case.etag,
            };
            let early = decided_by_preconditions(
                Method::Get,
                &case.conditionals,
                &Representation { len: 0, ..rep },
            );
            let served = serve(Method::Get, &case.conditionals, None, &rep);
            match early {
                Some(reply) => assert_eq!(reply, served, "{}", case.name),
                None => assert!(
                    matches!(served.status, Status::Ok),
                    "{}: {:?}",
                    case.name,
                    served.status
                ),
            }
        }
    }
}
