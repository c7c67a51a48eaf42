//! The library guest's metadata API as the tests call it: its URLs, and the checks every
//! endpoint shares (validators, 304s, HEAD).

use serde_json::Value;

use super::http::pct_path;
use super::{Pairs, Response, TestServer};

/// `/api/track/<rel>`, percent-encoded.
pub fn track_url(rel: &str) -> String {
    format!("/api/track/{}", pct_path(rel))
}

/// `/api/cover/<rel>`, percent-encoded.
pub fn cover_url(rel: &str) -> String {
    format!("/api/cover/{}", pct_path(rel))
}

/// `/api/browse/<dir>?<query>`, percent-encoded ("" is the music dir).
pub fn browse_url(dir: &str, query: &str) -> String {
    let query = if query.is_empty() { String::new() } else { format!("?{query}") };
    format!("/api/browse/{}{query}", pct_path(dir))
}

/// `GET target`, which must be a 200 JSON object; HEAD must match it.
#[track_caller]
pub fn get_json(server: &TestServer, target: &str, headers: Pairs) -> Value {
    let response = server.get_and_head(target, headers, target);
    assert_eq!(response.status, 200, "{target}: {}", response.summary());
    let content_type = response.expect_header("content-type");
    assert!(content_type.starts_with("application/json"), "{target}: {content_type}");
    response.json()
}

/// Asserts `target` answers a 200 with a strong ETag and a Last-Modified, then 304 (with the
/// same ETag and no body) to If-None-Match and to If-Modified-Since, and a 200 again to a
/// stale If-None-Match; HEAD matches GET each time. `headers` go on every request (a
/// token). Returns the first 200.
#[track_caller]
pub fn assert_revalidates(server: &TestServer, target: &str, headers: Pairs) -> Response {
    let fresh = server.get_and_head(target, headers, &format!("{target}: GET"));
    assert_eq!(fresh.status, 200, "{target}: {}", fresh.summary());
    let etag = fresh.expect_header("etag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{target}: weak or bare ETag {etag}");
    let modified = fresh.expect_header("last-modified");
    for (name, value) in [("If-None-Match", &etag), ("If-Modified-Since", &modified)] {
        let mut conditional = headers.to_vec();
        conditional.push((name, value));
        let what = format!("{target} with {name}: {value}");
        let response = server.get_and_head(target, &conditional, &what);
        assert_eq!(response.status, 304, "{what}: {}", response.summary());
        assert!(response.body.is_empty(), "{what}: a 304 with a body");
        assert_eq!(response.header("etag").as_deref(), Some(etag.as_str()), "{what}");
    }
    let mut stale = headers.to_vec();
    stale.push(("If-None-Match", "\"stale\""));
    let response = server.get(target, &stale);
    assert_eq!(response.status, 200, "{target} with a stale ETag: {}", response.summary());
    assert_eq!(response.body, fresh.body, "{target}: the body changed between requests");
    fresh
}

/// Asserts a JSON error with `status`, HEAD included; returns the message.
#[track_caller]
pub fn assert_error(server: &TestServer, target: &str, headers: Pairs, status: u16) -> String {
    let response = server.get_and_head(target, headers, target);
    assert_eq!(response.status, status, "{target}: {}", response.summary());
    response.expect_json_error()
}
