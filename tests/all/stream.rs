//! Whole-file responses: exact bytes and headers for every format, MIME types,
//! Content-Disposition, HEAD, `/health`, the request log and shutdown.

use std::fs::File;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::http::{self, pct_decode, pct_path};
use crate::support::library::{Format, NESTED_UTF8, WAV, encoded};
use crate::support::{Library, TestServer, assert_same_bytes};

#[test]
fn every_format_is_served_whole_with_exact_bytes_and_headers() {
    let server = TestServer::start(Library::standard());
    for format in Format::ALL {
        let name = format.file();
        let expected = server.library().read(&name);
        let response = server.stream(&name, &[]);
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
fn mime_type_follows_the_extension_case_insensitively() {
    const CASES: &[(&str, Format)] = &[
        ("LOUD.MP3", Format::Mp3),
        ("Mixed.Flac", Format::Flac),
        ("SHOUT.WAV", Format::Wav),
        ("Book.M4B", Format::M4b),
        ("Song.M4a", Format::M4a),
        ("OLD.WMA", Format::Wma),
        ("Pack.WV", Format::Wv),
        ("Vorbis.OGG", Format::Ogg),
        ("Speech.OpUs", Format::Opus),
    ];
    let library = Library::standard();
    for (name, format) in CASES {
        library.add(name, &encoded(*format));
    }
    let server = TestServer::start(library);
    for (name, format) in CASES {
        let response = server.stream(name, &[]);
        assert_eq!(response.status, 200, "{name}: {}", response.summary());
        assert_eq!(response.header("content-type").as_deref(), Some(format.mime()), "{name}");
        assert_same_bytes(&response.body, &server.library().read(name), name);
    }
}

#[test]
fn plain_name_gets_an_exact_inline_content_disposition() {
    let server = TestServer::start(Library::standard());
    let response = server.stream(WAV, &[]);
    assert_eq!(
        response.header("content-disposition").as_deref(),
        Some("inline; filename=\"tone.wav\"; filename*=UTF-8''tone.wav")
    );
}

#[test]
fn utf8_name_with_spaces_and_quotes_is_served_with_an_encoded_filename() {
    const NAMES: &[&str] = &[NESTED_UTF8, "100% pure; tone,mp3.mp3", "日本語 トーン.ogg"];
    let library = Library::standard();
    for name in &NAMES[1..] {
        library.add(name, &encoded(Format::Mp3));
    }
    let server = TestServer::start(library);
    for rel in NAMES {
        let response = server.stream(rel, &[]);
        assert_eq!(response.status, 200, "{rel}: {}", response.summary());
        assert_same_bytes(&response.body, &server.library().read(rel), rel);
        let basename = rel.rsplit('/').next().unwrap();
        check_content_disposition(&response.expect_header("content-disposition"), basename);
    }
}

/// `inline; filename="<ASCII quoted-string>"; filename*=UTF-8''<RFC 8187 value>`, where the
/// extended value decodes to `basename` exactly and uses only `attr-char`s and `%XX`.
#[track_caller]
fn check_content_disposition(value: &str, basename: &str) {
    let rest = value
        .strip_prefix("inline; filename=\"")
        .unwrap_or_else(|| panic!("`{value}`: not inline"));
    // The quoted-string: ends at the first `"` not escaped by a backslash (RFC 9110 §5.6.4).
    let mut fallback = String::new();
    let mut chars = rest.char_indices();
    let end = loop {
        match chars.next() {
            Some((_, '\\')) => fallback.push(chars.next().expect("escape at the end").1),
            Some((i, '"')) => break i,
            Some((_, c)) => fallback.push(c),
            None => panic!("`{value}`: unterminated filename"),
        }
    };
    assert!(
        !fallback.is_empty() && fallback.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
        "`{value}`: the fallback filename must be printable ASCII"
    );
    let extended = rest[end + 1..]
        .strip_prefix("; filename*=UTF-8''")
        .unwrap_or_else(|| panic!("`{value}`: no `; filename*=UTF-8''` after the fallback"));
    let attr_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
    let mut bytes = extended.bytes();
    while let Some(b) = bytes.next() {
        let ok = attr_char(b)
            || (b == b'%'
                && bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
                && bytes.next().is_some_and(|h| h.is_ascii_hexdigit()));
        assert!(ok, "`{value}`: `{}` is not allowed unencoded in filename*", b as char);
    }
    assert_eq!(
        String::from_utf8(pct_decode(extended)).expect("filename* is UTF-8"),
        basename,
        "`{value}`: filename* does not decode to the file's name"
    );
}

#[test]
fn head_has_the_same_status_and_headers_as_get_and_no_body() {
    let server = TestServer::start(Library::standard());
    let etag = server.stream(WAV, &[]).expect_header("etag");
    let wav = format!("/stream/{WAV}");
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: &[Case<'_>] = &[
        ("whole_file", &wav, vec![]),
        ("utf8_name", &format!("/stream/{}", pct_path(NESTED_UTF8)), vec![]),
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
        let get = server.get(target, headers);
        // `request` fails on any byte after the head of a HEAD response.
        let head = server.head(target, headers);
        assert_eq!(
            head.status,
            get.status,
            "{name}: HEAD {} vs GET {}",
            head.summary(),
            get.summary()
        );
        assert_eq!(
            without_date(&head.headers),
            without_date(&get.headers),
            "{name}: headers differ"
        );
        assert!(head.body.is_empty(), "{name}");
    }
}

/// The headers without `Date`, and with any multipart boundary blanked: it may be drawn
/// afresh for each response.
fn without_date(headers: &[(String, String)]) -> Vec<(String, String)> {
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

#[test]
fn head_response_is_followed_directly_by_the_next_response_on_the_connection() {
    let server = TestServer::start(Library::standard());
    let addr = server.addr();
    // Pipelined: if the HEAD answer carried body bytes, they would precede the second status line.
    let requests = format!(
        "HEAD /stream/{WAV} HTTP/1.1\r\nHost: {addr}\r\n\r\nGET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let received = http::exchange(addr, requests.as_bytes());
    let end = http::find(&received, b"\r\n\r\n").expect("a response head");
    let first = http::parse_response(&received[..end + 4], true).expect("HEAD response");
    assert_eq!(first.status, 200, "{}", first.summary());
    assert_eq!(first.content_length(), server.library().read(WAV).len() as u64);
    let rest = &received[end + 4..];
    assert!(
        rest.starts_with(b"HTTP/1.1 200"),
        "after the HEAD response came {:?}",
        http::lossy(rest, 200)
    );
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
    let parts = http::parse_byteranges(&content_type, &multi[..split])
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
    let output = Command::new("curl").args(args).output().expect("the tests need the `curl` CLI");
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
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

#[test]
fn a_2_gib_file_streams_whole_in_bounded_memory() {
    let library = Library::empty();
    let len: u64 = (2 << 30) + 7;
    let end_marker: &[u8] = b"END-OF-2-GiB----";
    library.add_sparse_file("long.wav", len, &[(len - 16, end_marker)]);
    let server = TestServer::start(library);
    let before = server.peak_rss();
    // A reader that stalls: the server must wait for it, not buffer the file.
    let stalled = http::get_prefix(server.addr(), "/stream/long.wav", &[], 1);
    assert_eq!(stalled.status, 200, "{}", stalled.summary());
    let (response, count, tail) = http::get_counted(server.addr(), "/stream/long.wav");
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
fn the_name_is_the_percent_decoded_path_alone() {
    let library = Library::standard();
    library.add("a+b.mp3", &encoded(Format::Mp3));
    library.add("a b.mp3", &encoded(Format::Flac));
    std::os::unix::fs::symlink(WAV, library.path("inside-link.wav")).expect("symlink");
    let server = TestServer::start(library);
    // (target as sent, the file whose bytes must come back)
    let cases = [
        ("/stream/tone.wav?v=123", WAV),
        ("/stream/tone.wav?", WAV),
        // `+` is a space only in form data, never in a path.
        ("/stream/a+b.mp3", "a+b.mp3"),
        ("/stream/a%2Bb.mp3", "a+b.mp3"),
        ("/stream/a%20b.mp3", "a b.mp3"),
        ("/stream/%74one.wav", WAV),
        // A symlink that stays inside MUSIC_DIR is an ordinary file of the library.
        ("/stream/inside-link.wav", WAV),
    ];
    for (target, file) in cases {
        let response = server.get(target, &[]);
        assert_eq!(response.status, 200, "{target}: {}", response.summary());
        assert_same_bytes(&response.body, &server.library().read(file), target);
    }
}

/// `len` bytes that differ from any shifted copy of themselves, so a misplaced or
/// zeroed piece of a body cannot go unnoticed.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn mebibytes_of_a_file_arrive_exact_to_fast_and_slow_readers() {
    let library = Library::empty();
    let file = noise((5 << 20) + 3);
    library.add("noise.flac", &file);
    let server = TestServer::start(library);
    let addr = server.addr();

    let whole = http::request(addr, "GET", "/stream/noise.flac", &[], None);
    assert_eq!(whole.status, 200, "{}", whole.summary());
    assert_same_bytes(&whole.body, &file, "a fast reader's whole file");

    // A reader that pauses makes the server's writes stop part-way, again and again.
    let mut slow = http::OpenStream::open(addr, "/stream/noise.flac", &[("Connection", "close")]);
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
    let mut connection = http::KeepAlive::connect(addr);
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
    let parts = http::parse_byteranges(&response.expect_header("content-type"), &response.body)
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
        http::OpenStream::open(server.addr(), "/stream/shrinking.wav", &[("Connection", "close")]);
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
