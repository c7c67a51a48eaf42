//! What every integration test shares: the server under test, its music library or config,
//! an HTTP client, a metrics parser.

#![allow(dead_code, reason = "each test module uses a different part of the support code")]

pub mod config;
pub mod http;
pub mod library;
pub mod metrics;
pub mod server;

pub use self::http::Response;
pub use self::library::Library;
pub use self::server::{Launch, TestServer};

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
        String::from_utf8_lossy(&actual[..actual.len().min(120)]),
    );
}

/// The median and the largest of `samples` (which it sorts).
pub fn median_and_max(
    samples: &mut [std::time::Duration],
) -> (std::time::Duration, std::time::Duration) {
    samples.sort();
    match samples {
        [] => Default::default(),
        _ => (samples[samples.len() / 2], samples[samples.len() - 1]),
    }
}
