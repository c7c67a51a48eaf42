//! SIGTERM: the listener closes at once, a stream in flight runs to its end, every log line
//! is written, and the process exits 0.

use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::connection::OpenStream;
use crate::support::library::WAV;
use crate::support::{Library, TestServer, assert_same_bytes};

#[test]
fn server_exits_cleanly_on_sigterm_with_every_log_line_written() {
    let mut server = TestServer::start(Library::standard());
    server.stream(WAV, &[("Range", "bytes=0-99")]);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status after SIGTERM: {status}");
    // Log lines are written in batches: the last batch must not be lost at exit.
    let logged = |words: &[&str]| {
        server
            .wait_for_log(1, Duration::from_secs(2), |line| words.iter().all(|w| line.contains(w)))
    };
    assert!(logged(&["GET", "/stream/tone.wav", "206"]), "{}", server.log_text());
    assert!(logged(&["shutting down"]), "{}", server.log_text());
}

#[test]
fn sigterm_refuses_new_connections_and_lets_a_stream_in_flight_finish_then_exits_0() {
    let library = Library::empty();
    let len = 24 << 20;
    library.add("big.mp3", &tagged("big", len));
    let expected = library.read("big.mp3");
    let mut server = TestServer::start(library);
    let addr = server.addr();
    let mut stream = OpenStream::open(addr, "/stream/big.mp3", &[("Connection", "close")]);
    assert_eq!(stream.head.status, 200, "{}", stream.head.summary());
    let mut body = stream.read(256 * 1024);

    let term = Instant::now();
    server.signal("TERM");
    // New connections are refused once the listener is closed.
    let refused_after = loop {
        match std::net::TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break term.elapsed(),
            _ => {}
        }
        assert!(term.elapsed() < Duration::from_secs(2), "still accepting 2 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    // The stream in flight is read slowly to its end.
    while body.len() + (1 << 20) < expected.len() {
        body.extend(stream.read(1 << 20));
        std::thread::sleep(Duration::from_millis(15));
    }
    body.extend(stream.rest());
    let read_for = term.elapsed();
    assert_same_bytes(&body, &expected, "a stream in flight at SIGTERM");
    let status = server.wait_exit(Duration::from_secs(10));
    eprintln!(
        "SIGTERM: new connections refused after {refused_after:?}; the stream in flight \
         finished {read_for:?} after it; exit {status} after {:?}",
        term.elapsed()
    );
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let log = server.log_text();
    assert!(log.contains("path=/stream/big.mp3 status=200"), "no log line of the stream:\n{log}");
}
