//! The request log: one line per request with method, path and status, on its own target
//! that `RUST_LOG` can turn off.

use std::time::{Duration, Instant};

use crate::support::library::WAV;
use crate::support::{Library, TestServer};

#[test]
fn every_request_is_logged_with_method_path_and_status() {
    let server = TestServer::start(Library::standard());
    server.stream(WAV, &[("Range", "bytes=0-99")]);
    server.head("/stream/missing.mp3", &[]);
    let wanted: [&[&str]; 2] =
        [&["GET", "/stream/tone.wav", "206"], &["HEAD", "/stream/missing.mp3", "404"]];
    // The line is written when the response body is done, just after the client has it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = server.log_lines();
        let found = |words: &[&str]| lines.iter().any(|l| words.iter().all(|w| l.contains(w)));
        if wanted.iter().all(|words| found(words)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with each of {wanted:?} in:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_access_log_is_its_own_target_that_rust_log_can_turn_off() {
    let quiet = std::ffi::OsStr::new("info,tapedeck::access=off");
    let mut servers = [
        (TestServer::start(Library::standard()), true),
        (TestServer::start_with(Library::standard(), &[], &[("RUST_LOG", quiet)]), false),
    ];
    for (server, logs_requests) in &mut servers {
        server.stream(WAV, &[("Range", "bytes=0-99")]);
        server.signal("TERM");
        assert!(server.wait_exit(Duration::from_secs(15)).success());
        // Every line is written by exit: once the last one is read, the request's
        // is there or never will be.
        server.wait_for_log(1, Duration::from_secs(2), |line| line.contains("shutting down"));
        let log = server.log_text();
        let access = log.lines().any(|line| {
            line.contains("INFO tapedeck::access: request tenant=\"default\" method=GET")
                && line.contains("path=/stream/tone.wav status=206 bytes=100 ms=")
        });
        assert!(log.contains("shutting down"), "{log}");
        assert_eq!(access, *logs_requests, "{log}");
    }
}
