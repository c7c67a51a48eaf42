//! A library is hostile input: files that are not regular files (FIFOs, sockets, devices)
//! named as audio are refused without blocking a worker, and names with characters that are
//! ordinary on Unix (a backslash) are served like any other.

use std::os::unix::net::UnixListener;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::http;
use crate::support::{Library, TestServer, assert_body, run};

/// Requests for a FIFO at once: more than the workers (one per core), so that if an open
/// blocked its worker, every worker would be taken.
fn concurrent_requests() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from) * 2 + 1
}

fn is_root() -> bool {
    String::from_utf8_lossy(&run(Command::new("id").arg("-u"))).trim() == "0"
}

#[test]
fn fifos_sockets_and_devices_named_as_audio_are_404_and_every_worker_keeps_serving() {
    let library = Library::empty();
    library.add("good.mp3", &tagged("good", 5000));
    for fifo in ["fifo.mp3", "fifo.wma", "fifo.wv"] {
        run(Command::new("mkfifo").arg(library.path(fifo)));
    }
    let _socket = UnixListener::bind(library.path("socket.flac")).expect("bind a unix socket");
    // A character device needs root to make; CI runs as root.
    let device = is_root().then(|| {
        run(Command::new("mknod").arg(library.path("zero.mp3")).args(["c", "1", "5"]));
        "zero.mp3"
    });
    let server = Arc::new(TestServer::start(library));

    let mut targets = vec![
        "/stream/fifo.mp3",
        "/stream/wav/fifo.wma",
        "/stream/wav/fifo.wv",
        "/stream/socket.flac",
    ];
    if device.is_some() {
        targets.push("/stream/zero.mp3");
    }
    for target in targets {
        let started = Instant::now();
        let answers: Vec<_> = (0..concurrent_requests())
            .map(|_| {
                let server = Arc::clone(&server);
                std::thread::spawn(move || server.get(target, &[]))
            })
            .collect();
        for answer in answers {
            let response = answer.join().expect("request thread");
            assert_eq!(response.status, 404, "{target}: {}", response.summary());
            assert_eq!(response.expect_json_error(), "File not found", "{target}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{target} took {:?}",
            started.elapsed()
        );
        server.assert_alive();
        let good = server.stream("good.mp3", &[]);
        assert_body(&good, &tagged("good", 5000), "a regular file beside them");
    }
}

#[test]
fn names_with_a_backslash_are_ordinary_names_on_unix() {
    let library = Library::empty();
    let live = tagged("live", 3000);
    library.add("AC\\DC - Live.mp3", &live);
    library.add("Album\\Disc 1/01.flac", &tagged("disc", 1000));
    let server = TestServer::start(library);

    let response = server.get("/stream/AC%5CDC%20-%20Live.mp3", &[]);
    assert_eq!(response.status, 200, "{}", response.summary());
    assert_body(&response, &live, "AC\\DC - Live.mp3");
    let disposition = response.expect_header("content-disposition");
    assert!(disposition.contains("filename*=UTF-8''AC%5CDC%20-%20Live.mp3"), "{disposition}");

    let nested = server.get("/stream/Album%5cDisc%201/01.flac", &[]);
    assert_eq!(nested.status, 200, "{}", nested.summary());
    // Still a name, not a way up: `..\` is a file name here and there is none.
    let parent = server.get("/stream/..%5Cgood.mp3", &[]);
    assert_eq!(parent.status, 404, "{}", parent.summary());
    let escape = http::request(server.addr(), "GET", "/stream/%2e%2e/secret.mp3", &[], None);
    assert_eq!(escape.status, 403, "{}", escape.summary());
}
