//! HEAD: the status and headers of the GET, and not one byte of body, even on a connection
//! that carries the next response.

use crate::support::http;
use crate::support::library::{NESTED_UTF8, WAV};
use crate::support::server::stream_url;
use crate::support::{Library, TestServer};

#[test]
fn head_has_the_same_status_and_headers_as_get_and_no_body() {
    let server = TestServer::start(Library::standard());
    let etag = server.stream(WAV, &[]).expect_header("etag");
    let wav = stream_url(WAV);
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: &[Case<'_>] = &[
        ("whole_file", &wav, vec![]),
        ("utf8_name", &stream_url(NESTED_UTF8), vec![]),
        ("single_range", &wav, vec![("Range", "bytes=10-99")]),
        ("multiple_ranges", &wav, vec![("Range", "bytes=0-9,100-199")]),
        ("unsatisfiable", &wav, vec![("Range", "bytes=999999999-")]),
        ("not_modified", &wav, vec![("If-None-Match", etag.as_str())]),
        ("precondition_failed", &wav, vec![("If-Match", "\"stale\"")]),
        ("missing", "/stream/missing.mp3", vec![]),
        ("not_audio", "/stream/notes.txt", vec![]),
        ("health", "/health", vec![]),
    ];
    for (name, target, headers) in cases {
        // `head` also fails on any byte after the head of a HEAD response.
        server.get_and_head(target, headers, name);
    }
}

#[test]
fn head_response_is_followed_directly_by_the_next_response_on_the_connection() {
    let server = TestServer::start(Library::standard());
    let addr = server.addr();
    // Pipelined: if the HEAD answer carried body bytes, they would precede the second status line.
    let requests = format!(
        "HEAD /stream/{WAV} HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let received = http::exchange(addr, requests.as_bytes());
    let (first, end) = http::parse_head(&received).expect("HEAD response").expect("a whole head");
    assert_eq!(first.status, 200, "{}", first.summary());
    assert_eq!(first.content_length(), server.library().read(WAV).len() as u64);
    let rest = &received[end..];
    let second = http::parse_response(rest, false)
        .unwrap_or_else(|e| panic!("after the HEAD response: {e}: {:?}", http::lossy(rest, 200)));
    assert_eq!(second.status, 200, "the response after the HEAD: {}", second.summary());
    assert!(second.json().is_object(), "the response after the HEAD: {}", second.summary());
    assert!(second.trailing.is_empty(), "bytes after the last response: {:?}", second.trailing);
}
