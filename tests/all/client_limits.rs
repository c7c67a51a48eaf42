//! Every client may be malicious: one that stops reading is cut after the send timeout, one
//! that reads too slowly is cut at the request timeout, connections past the cap get a clear
//! 503, and odd but legal requests (HTTP/1.0 without Host) are served.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::connection::OpenStream;
use crate::support::http;
use crate::support::{Launch, Library, TestServer, assert_body};

/// A file far larger than the socket buffers between the server and a client that does not
/// read, so a stalled client leaves the server with bytes it cannot send.
const BIG: u64 = 256 << 20;

fn big_library() -> Library {
    let library = Library::empty();
    library.add_sparse_file("big.mp3", BIG, &[]);
    library.add("small.mp3", &tagged("small", 4000));
    library
}

/// Reads from `socket` until the server closes it or `limit` passes; returns the bytes read
/// and whether the server closed the connection.
fn drain(socket: &mut TcpStream, limit: Duration) -> (u64, bool) {
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + limit;
    let mut buf = vec![0; 1 << 20];
    let mut read = 0;
    while Instant::now() < deadline {
        match socket.read(&mut buf) {
            Ok(0) => return (read, true),
            Ok(n) => read += n as u64,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (read, true),
        }
    }
    (read, false)
}

fn active_streams(server: &TestServer) -> f64 {
    server.metrics().value("tapedeck_active_streams", &[("tenant", "default")])
}

/// Waits up to `limit` for the tenant to have no response in flight.
fn streams_end(server: &TestServer, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if active_streams(server) == 0.0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_client_that_stops_reading_is_cut_after_the_send_timeout() {
    let server = Launch::library(big_library())
        .args(["--send-timeout", "2", "--admin-listen", "127.0.0.1:0"])
        .start();
    let mut stalled = OpenStream::open(server.addr(), "/stream/big.mp3", &[]);
    assert_eq!(stalled.head.status, 200, "{}", stalled.head.summary());
    assert_eq!(active_streams(&server), 1.0);
    // It reads nothing: once the socket buffers are full the server waits, then gives up.
    assert!(streams_end(&server, Duration::from_secs(15)), "the stalled stream is still open");
    let (read, closed) = drain(&mut stalled.socket, Duration::from_secs(10));
    assert!(closed, "the connection is still open after {read} bytes");
    assert!(read < BIG, "the whole file arrived; the client was never cut");
    server.assert_alive();
}

#[test]
fn a_client_reading_steadily_is_not_cut_by_the_send_timeout() {
    let server = Launch::library(big_library()).args(["--send-timeout", "1"]).start();
    let mut reader = OpenStream::open(server.addr(), "/stream/big.mp3", &[]);
    let started = Instant::now();
    let mut total = 0u64;
    // About 8 MiB/s for 4 s: far slower than loopback, but never a second without progress.
    while started.elapsed() < Duration::from_secs(4) {
        total += reader.read(256 * 1024).len() as u64;
        std::thread::sleep(Duration::from_millis(30));
    }
    let more = reader.read(64 * 1024);
    assert_eq!(more.len(), 64 * 1024, "cut after {total} bytes read steadily");
}

#[test]
fn a_client_reading_slowly_is_cut_at_the_request_timeout_for_file_bodies_too() {
    let server = Launch::library(big_library())
        .args(["--request-timeout", "3", "--admin-listen", "127.0.0.1:0"])
        .start();
    let mut slow = OpenStream::open(server.addr(), "/stream/big.mp3", &[]);
    let started = Instant::now();
    let mut read = 0u64;
    let closed = loop {
        match slow.socket.read(&mut [0u8; 16 * 1024]) {
            Ok(0) | Err(_) => break true,
            Ok(n) => read += n as u64,
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(closed, "still streaming 20 s into a 3 s request timeout ({read} bytes)");
    assert!(read < BIG, "the whole file arrived");
    assert!(started.elapsed() >= Duration::from_secs(2), "cut early: {:?}", started.elapsed());
    assert!(streams_end(&server, Duration::from_secs(5)));
    let timeouts = server
        .metrics()
        .value("tapedeck_limit_hits_total", &[("tenant", "default"), ("limit", "timeout")]);
    assert_eq!(timeouts, 1.0);
}

#[test]
fn connections_past_the_cap_get_a_json_503_and_a_freed_place_is_taken_again() {
    let server = Launch::library(big_library()).args(["--max-connections", "3"]).start();
    let idle: Vec<TcpStream> = (0..3).map(|_| http::connect(server.addr())).collect();
    // The idle ones are accepted in turn by the workers: wait until all three hold a place.
    std::thread::sleep(Duration::from_millis(300));
    let refused = http::exchange(server.addr(), b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let refused = http::parse_response(&refused, false).expect("a whole response");
    assert_eq!(refused.status, 503, "{}", refused.summary());
    assert_eq!(refused.expect_json_error(), "Too many connections");
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));

    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = http::request(server.addr(), "GET", "/stream/small.mp3", &[], None);
        if response.status == 200 {
            assert_body(&response, &tagged("small", 4000), "after the idle ones left");
            break;
        }
        assert_eq!(response.status, 503, "{}", response.summary());
        assert!(Instant::now() < deadline, "the places of closed connections never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn http_1_0_without_a_host_header_is_served() {
    let server = TestServer::start(big_library());
    let received = http::exchange(server.addr(), b"GET /stream/small.mp3 HTTP/1.0\r\n\r\n");
    let response = http::parse_response(&received, false).expect("a whole response");
    assert_eq!(response.status, 200, "{}", response.summary());
    assert_body(&response, &tagged("small", 4000), "HTTP/1.0 without Host");
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let server = TestServer::start(big_library());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("open files");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3], fields[4], "soft and hard differ: {line}");
}

#[test]
fn a_token_tenant_is_private_to_caches_and_takes_a_percent_encoded_query_token() {
    let library = big_library();
    let dir = crate::support::config::ConfigDir::new();
    // Every character here means something in a query string unless percent-encoded.
    let token = "s3cret +/&=%?#";
    let tenant = crate::support::config::Tenant::new("t", library.music_dir()).token(token);
    let server = TestServer::start_config(&dir.config("t.toml", false, &[tenant]));

    let encoded = http::pct_segment(token);
    let by_query = server.get(&format!("/stream/small.mp3?token={encoded}"), &[]);
    assert_eq!(by_query.status, 200, "{}", by_query.summary());
    assert_eq!(by_query.expect_header("cache-control"), "private, no-cache");
    let bearer = format!("Bearer {token}");
    let by_header = server.get("/stream/small.mp3", &[("Authorization", &bearer)]);
    assert_eq!(by_header.status, 200, "{}", by_header.summary());
    for wrong in ["s3cret", "s3cret%20%2B%2F%26%3D%25%3F%23x", "", "S3CRET%20%2B%2F%26%3D%25%3F%23"]
    {
        let response = server.get(&format!("/stream/small.mp3?token={wrong}"), &[]);
        assert_eq!(response.status, 401, "token {wrong:?}: {}", response.summary());
    }
}

#[test]
fn the_admin_listener_takes_a_token_when_given_one() {
    let server = Launch::library(big_library())
        .args(["--admin-listen", "127.0.0.1:0", "--admin-token", "adm1n"])
        .start();
    let admin = server.admin_addr();
    let without = http::request(admin, "GET", "/metrics", &[], None);
    assert_eq!(without.status, 401, "{}", without.summary());
    let wrong =
        http::request(admin, "POST", "/admin/reload", &[("Authorization", "Bearer x")], None);
    assert_eq!(wrong.status, 401, "{}", wrong.summary());
    let with = http::request(admin, "GET", "/metrics", &[("Authorization", "Bearer adm1n")], None);
    assert_eq!(with.status, 200, "{}", with.summary());
    let health = http::request(admin, "GET", "/health", &[], None);
    assert_eq!(health.status, 200, "load balancers need no token: {}", health.summary());
}

#[test]
fn sigterm_ends_the_process_by_the_end_of_the_grace_period_despite_a_stalled_client() {
    let library = big_library();
    let dir = crate::support::config::ConfigDir::new();
    let tenant = crate::support::config::Tenant::new("t", library.music_dir());
    let config = crate::support::config::config_toml(false, "shutdown_grace_secs = 1", &[tenant]);
    let mut server = TestServer::start_config(&dir.write("t.toml", config));
    let mut stalled = OpenStream::open(server.addr(), "/stream/big.mp3", &[]);
    stalled.socket.write_all(b"").unwrap();
    let term = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(8));
    assert!(status.success(), "exit status {status}");
    assert!(term.elapsed() < Duration::from_secs(5), "exited after {:?}", term.elapsed());
}
