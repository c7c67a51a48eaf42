//! Whole files and long bodies: exact bytes and headers for every format, to fast, slow,
//! concurrent and kept-alive readers, to `curl`, past 2 GiB in bounded memory, and a file
//! that shrinks while it is sent; `/health`.

use std::fs::File;
use std::process::Command;
use std::time::Duration;

use crate::support::byteranges::parse_byteranges;
use crate::support::bytes::noise;
use crate::support::connection::{self, KeepAlive, OpenStream};
use crate::support::http::{self, pct_path};
use crate::support::library::{NESTED_UTF8, WAV};
use crate::support::media::Format;
use crate::support::server::stream_url;
use crate::support::{Library, TestServer, assert_same_bytes, run};

#[test]
fn every_format_is_served_whole_with_exact_bytes_and_headers() {
    let server = TestServer::start(Library::standard());
    for format in Format::ALL {
        let name = format.file();
        let expected = server.library().read(&name);
        let response = server.get_and_head(&stream_url(&name), &[], &name);
        assert_eq!(response.status, 200, "{name}: {}", response.summary());
        assert_same_bytes(&response.body, &expected, &name);
        assert_eq!(response.content_length(), expected.len() as u64, "{name}: Content-Length");
        assert_eq!(
            response.header("accept-ranges").as_deref(),
            Some("bytes"),
            "{name}: Accept-Ranges"
        );
        assert_eq!(
            response.header("content-type").as_deref(),
            Some(format.mime()),
            "{name}: Content-Type"
        );
        assert_eq!(response.header("content-range"), None, "{name}: Content-Range on a 200");
        assert_eq!(response.header("transfer-encoding"), None, "{name}: a file has a known length");
    }
}

#[test]
fn content_length_matches_the_bytes_sent_on_a_kept_alive_connection() {
    let server = TestServer::start(Library::standard());
    let addr = server.addr();
    let file = server.library().read(WAV);
    let requests = format!(
        "GET /stream/{WAV} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes=100-1099\r\n\r\n\
         GET /stream/{WAV} HTTP/1.1\r\nHost: {addr}\r\n\r\n\
         GET /stream/{WAV} HTTP/1.1\r\nHost: {addr}\r\nRange: bytes=-10\r\nConnection: close\r\n\r\n"
    );
    let mut received = &http::exchange(addr, requests.as_bytes())[..];
    let expected: [&[u8]; 3] = [&file[100..1100], &file, &file[file.len() - 10..]];
    for (i, want) in expected.into_iter().enumerate() {
        let response =
            http::parse_response(received, false).unwrap_or_else(|e| panic!("response {i}: {e}"));
        assert_same_bytes(&response.body, want, &format!("response {i}"));
        let consumed = received.len() - response.trailing.len();
        received = &received[consumed..];
    }
    assert!(received.is_empty(), "{} unexpected bytes after the last response", received.len());
}

#[test]
fn curl_downloads_the_same_bytes_whole_and_in_ranges() {
    let server = TestServer::start(Library::standard());
    let url = format!("http://{}/stream/{}", server.addr(), pct_path(NESTED_UTF8));
    let file = server.library().read(NESTED_UTF8);
    let whole = curl(&["--fail", "--silent", "--show-error", &url]);
    assert_same_bytes(&whole, &file, "curl, whole file");
    let ranged = curl(&["--fail", "--silent", "--show-error", "--range", "1000-1999", &url]);
    assert_same_bytes(&ranged, &file[1000..2000], "curl --range 1000-1999");
    // Several ranges: curl writes the multipart body as is, and its Content-Type last.
    let multi = curl(&[
        "--fail",
        "--silent",
        "--show-error",
        "--range",
        "0-99,5000-5099",
        "--write-out",
        "\n%{content_type}",
        &url,
    ]);
    let split = multi.iter().rposition(|&b| b == b'\n').expect("content type line");
    let content_type = String::from_utf8_lossy(&multi[split + 1..]).into_owned();
    let parts = parse_byteranges(&content_type, &multi[..split])
        .unwrap_or_else(|e| panic!("curl --range 0-99,5000-5099: {e} ({content_type})"));
    let got: Vec<(u64, u64)> = parts.iter().map(|p| (p.first, p.last)).collect();
    assert_eq!(got, [(0, 99), (5000, 5099)], "curl --range 0-99,5000-5099");
    for part in &parts {
        let slice = &file[part.first as usize..=part.last as usize];
        assert_same_bytes(&part.data, slice, "a part curl received");
    }
    // Two transfers over one kept-alive connection must both come out intact.
    let twice = curl(&["--fail", "--silent", "--show-error", &url, &url]);
    assert_same_bytes(
        &twice,
        &[file.clone(), file].concat(),
        "curl, two transfers on one connection",
    );
}

fn curl(args: &[&str]) -> Vec<u8> {
    run(Command::new("curl").args(args))
}

#[test]
fn health_answers_200_json() {
    let server = TestServer::start(Library::empty());
    let response = server.get("/health", &[]);
    assert_eq!(response.status, 200, "{}", response.summary());
    assert!(
        response.expect_header("content-type").starts_with("application/json"),
        "{}",
        response.summary()
    );
    assert!(response.json().is_object(), "{}", response.summary());
}

#[test]
fn a_2_gib_file_streams_whole_in_bounded_memory() {
    let library = Library::empty();
    let len: u64 = (2 << 30) + 7;
    let end_marker: &[u8] = b"END-OF-2-GiB----";
    library.add_sparse_file("long.wav", len, &[(len - 16, end_marker)]);
    let server = TestServer::start(library);
    let before = server.peak_rss();
    // A reader that stalls: the server must wait for it, not buffer the file.
    let stalled = connection::get_prefix(server.addr(), "/stream/long.wav", &[], 1);
    assert_eq!(stalled.status, 200, "{}", stalled.summary());
    let (response, count, tail) = connection::get_counted(server.addr(), "/stream/long.wav");
    assert_eq!(response.status, 200, "{}", response.summary());
    assert_eq!(response.content_length(), len);
    assert_eq!(count, len, "body bytes received");
    assert_same_bytes(&tail, end_marker, "the last bytes of a 2 GiB file");
    let grown = server.peak_rss().saturating_sub(before);
    assert!(grown < BODY_MEMORY_BUDGET, "streaming grew the host by {} MiB", grown >> 20);
    drop(stalled);
}

/// How much a host may grow while streaming a file many times its size.
const BODY_MEMORY_BUDGET: u64 = 64 << 20;

#[test]
fn concurrent_requests_all_get_exact_bytes() {
    let server = TestServer::start(Library::standard());
    let addr = server.addr();
    let file = server.library().read(WAV);
    let threads: Vec<_> = (0..16u64)
        .map(|i| {
            std::thread::spawn(move || {
                let range = format!("bytes={}-", i * 4096);
                (
                    i,
                    http::request(
                        addr,
                        "GET",
                        &format!("/stream/{WAV}"),
                        &[("Range", &range)],
                        None,
                    ),
                )
            })
        })
        .collect();
    for thread in threads {
        let (i, response) = thread.join().expect("request thread");
        assert_eq!(response.status, 206, "{}", response.summary());
        assert_same_bytes(&response.body, &file[(i * 4096) as usize..], &format!("request {i}"));
    }
}

#[test]
fn mebibytes_of_a_file_arrive_exact_to_fast_and_slow_readers() {
    let library = Library::empty();
    let file = noise(0x5EED, (5 << 20) + 3);
    library.add("noise.flac", &file);
    let server = TestServer::start(library);
    let addr = server.addr();

    let whole = http::request(addr, "GET", "/stream/noise.flac", &[], None);
    assert_eq!(whole.status, 200, "{}", whole.summary());
    assert_same_bytes(&whole.body, &file, "a fast reader's whole file");

    // A reader that pauses makes the server's writes stop part-way, again and again.
    let mut slow = OpenStream::open(addr, "/stream/noise.flac", &[("Connection", "close")]);
    let mut received = Vec::new();
    while received.len() < file.len() {
        let take = (file.len() - received.len()).min(700 * 1024);
        received.extend(slow.read(take));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_same_bytes(&received, &file, "a slow reader's whole file");
    assert!(slow.rest().is_empty(), "nothing past the end");

    // Ranges across the edges of the server's 1 MiB sends, one after another on a
    // kept-alive connection, then as one multipart response.
    let edges = [(1_048_570, 1_048_590), (2_097_000, 4_200_000), (5_242_870, 5_242_882)];
    let mut connection = KeepAlive::connect(addr);
    for (first, last) in edges {
        let range = format!("bytes={first}-{last}");
        let response = connection
            .get_with("/stream/noise.flac", &[("Range", &range)])
            .unwrap_or_else(|problem| panic!("{range}: {problem}"));
        assert_eq!(response.status, 206, "{range}: {}", response.summary());
        assert_same_bytes(&response.body, &file[first..=last], &range);
    }
    let ranges = "bytes=1048570-1048590, 2097000-4200000, 5242870-5242882";
    let response = http::request(addr, "GET", "/stream/noise.flac", &[("Range", ranges)], None);
    assert_eq!(response.status, 206, "{}", response.summary());
    let parts = parse_byteranges(&response.expect_header("content-type"), &response.body)
        .unwrap_or_else(|problem| panic!("{ranges}: {problem}"));
    assert_eq!(parts.len(), edges.len(), "{ranges}: parts");
    for (part, (first, last)) in parts.iter().zip(edges) {
        assert_same_bytes(&part.data, &file[first..=last], &format!("part {first}-{last}"));
    }
}

#[test]
fn a_file_that_shrinks_mid_stream_ends_its_response_early_and_nothing_else() {
    let library = Library::empty();
    let len = 256u64 << 20;
    library.add_sparse_file("shrinking.wav", len, &[]);
    let server = TestServer::start(library);
    let mut stream =
        OpenStream::open(server.addr(), "/stream/shrinking.wav", &[("Connection", "close")]);
    assert_eq!(stream.head.content_length(), len);
    stream.read(1024);
    File::options()
        .write(true)
        .open(server.library().path("shrinking.wav"))
        .and_then(|file| file.set_len(1 << 20))
        .expect("truncate the file being sent");
    let rest = http::read_to_close(&mut stream.socket);
    let received = stream.taken + (stream.pending.len() + rest.len()) as u64;
    assert!(received < len, "the connection must end short of Content-Length, got all {len}");
    let after = http::request(server.addr(), "GET", "/stream/shrinking.wav", &[], None);
    assert_eq!(after.status, 200, "{}", after.summary());
    assert_eq!(after.body.len(), 1 << 20, "the file as it is now");
    server.assert_alive();
}
