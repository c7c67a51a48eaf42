//! What every integration test shares: the server under test, its music library and media,
//! config files, an HTTP client, a metrics parser, a well-behaved tenant beside a hostile one.

#![allow(dead_code, reason = "each test module uses a different part of the support code")]

pub mod api;
pub mod browser;
pub mod bystander;
pub mod byteranges;
pub mod bytes;
pub mod config;
pub mod connection;
pub mod guest;
pub mod http;
pub mod library;
pub mod media;
pub mod metrics;
pub mod processes;
pub mod server;
pub mod tagged;
pub mod tone;
pub mod wav;

use std::process::{Command, Stdio};
use std::time::Duration;

pub use self::http::Response;
pub use self::library::Library;
pub use self::server::{Launch, TestServer};

/// Request headers, or metric labels: `(name, value)` pairs.
pub type Pairs<'a> = &'a [(&'a str, &'a str)];

/// Asserts that `actual` is exactly `expected`, reporting lengths and the first differing
/// offset instead of dumping megabytes of bytes.
#[track_caller]
pub fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first_difference = actual.iter().zip(expected).position(|(a, b)| a != b);
    panic!(
        "{what}: got {} bytes, expected {}; first difference at offset {}; got starts {:?}",
        actual.len(),
        expected.len(),
        first_difference
            .map_or_else(|| "none (one is a prefix of the other)".into(), |at| at.to_string()),
        http::lossy(actual, 120),
    );
}

/// Asserts a 200 whose body is exactly `expected`.
#[track_caller]
pub fn assert_body(response: &Response, expected: &[u8], what: &str) {
    assert_eq!(response.status, 200, "{what}: {}", response.summary());
    assert_same_bytes(&response.body, expected, what);
}

/// Asserts that `head` answers a HEAD the way `get` answered the same GET: the same status,
/// every header the same but `Date` (and a multipart boundary, drawn afresh per response),
/// and no body.
#[track_caller]
pub fn assert_head_matches_get(head: &Response, get: &Response, what: &str) {
    assert_eq!(head.status, get.status, "{what}: HEAD {} vs GET {}", head.summary(), get.summary());
    assert_eq!(
        comparable_headers(&head.headers),
        comparable_headers(&get.headers),
        "{what}: HEAD and GET headers differ"
    );
    // A HEAD response is parsed with no body: any byte after its head lands in `trailing`.
    assert!(head.trailing.is_empty(), "{what}: HEAD has a body: {:?}", head.trailing);
}

/// The headers without `Date`, with any multipart boundary blanked, sorted.
fn comparable_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n != "date")
        .map(|(n, v)| match v.split_once("boundary=") {
            Some((before, _)) if n == "content-type" => (n.clone(), format!("{before}boundary=…")),
            _ => (n.clone(), v.clone()),
        })
        .collect();
    kept.sort();
    kept
}

/// The median and the largest of `samples` (which it sorts).
pub fn median_and_max(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    match samples {
        [] => Default::default(),
        _ => (samples[samples.len() / 2], samples[samples.len() - 1]),
    }
}

/// Runs a CLI the tests need (ffmpeg, wavpack, curl, ...) and returns its stdout; any
/// failure names the command and its stderr.
#[track_caller]
pub fn run(command: &mut Command) -> Vec<u8> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} (the tests need it installed): {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
