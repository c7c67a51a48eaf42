//! Transcoding's limits and failures: what is not a transcode or not decodable, decoders
//! that are not installed, the decoder cap, and what aborted and stalled transcodes leave
//! behind (decoder processes, zombies, file descriptors).

use std::io::{ErrorKind, Read};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::byteranges::assert_ranges;
use crate::support::bytes::{SplitMix64, noise};
use crate::support::connection::OpenStream;
use crate::support::media::{Format, TRANSCODE_FORMATS, encoded, transcode_media};
use crate::support::wav::wav_file;
use crate::support::{Library, TestServer, assert_same_bytes, run};

#[test]
fn transcode_errors_are_json_with_the_right_status_before_any_audio() {
    let library = Library::empty();
    let wv = TRANSCODE_FORMATS[0].add_to(&library, "wv");
    library.add("a.mp3", &encoded(Format::Mp3));
    library.add("a.flac", &encoded(Format::Flac));
    let garbage = noise(0xBAD, 64 * 1024);
    library.add("x.wv", &garbage);
    library.add("x.wma", &garbage);
    let server = TestServer::start(library);

    const CASES: &[(&str, &str, u16)] = &[
        ("an mp3 is not transcoded", "/stream/wav/a.mp3", 400),
        ("a flac is not transcoded", "/stream/wav/a.flac", 400),
        ("missing .wv", "/stream/wav/missing.wv", 404),
        ("missing .wma", "/stream/wav/Table%20%C3%9C/missing.wma", 404),
        ("random bytes named .wv", "/stream/wav/x.wv", 422),
        ("random bytes named .wma", "/stream/wav/x.wma", 422),
        ("climbing out", "/stream/wav/../music-sibling/secret.wv", 403),
        ("climbing, encoded", "/stream/wav/%2e%2e/music-sibling/secret.wv", 403),
    ];
    for (name, target, status) in CASES {
        for range in [None, Some("bytes=0-")] {
            let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
            let what = format!("{name} ({range:?})");
            let response = server.get_and_head(target, &headers, &what);
            assert_eq!(response.status, *status, "{what}: {}", response.summary());
            let message = response.expect_json_error();
            assert!(!message.is_empty(), "{name}: empty error message");
            assert!(
                !message.contains(server.library().root().to_str().unwrap()),
                "{name}: host path in `{message}`"
            );
        }
    }
    server.assert_alive();

    // The original bytes are still there under `/stream/`.
    let original = server.stream(&wv, &[]);
    assert_eq!(original.status, 200, "{}", original.summary());
    assert_eq!(original.header("content-type").as_deref(), Some("audio/x-wavpack"));
    assert_same_bytes(&original.body, &server.library().read(&wv), "/stream/ of a .wv");
}

/// A temporary directory holding symlinks to the named tools only: a `PATH` on which
/// every other program is missing.
fn tool_dir(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("tapedeck-path-").tempdir().expect("temp dir");
    for tool in tools {
        let found = run(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
        let found = String::from_utf8(found).expect("path").trim().to_owned();
        std::os::unix::fs::symlink(found, dir.path().join(tool)).expect("tool symlink");
    }
    dir
}

/// A library with a short `.wv` and `.wma` and an mp3, named `a.*`.
fn small_library() -> Library {
    let library = Library::empty();
    let case = &TRANSCODE_FORMATS[1];
    library.add("a.wv", &case.media("wv"));
    library.add("a.wma", &case.media("wma"));
    library.add("a.mp3", &encoded(Format::Mp3));
    library
}

/// `small_library` with the 10-minute `long.wv` and `long.wma`: transcodes that outlast
/// the test unless ended.
fn long_library() -> Library {
    let library = small_library();
    library.add("long.wv", &transcode_media("long.wv"));
    library.add("long.wma", &transcode_media("long.wma"));
    library
}

/// Opens a transcode of `long.wv` and reads its first bytes, so its decoder is running.
#[track_caller]
fn open_long_transcode(server: &TestServer) -> OpenStream {
    let mut stream = OpenStream::open(server.addr(), "/stream/wav/long.wv", &[]);
    assert_eq!(stream.head.status, 200, "a transcode of long.wv: {}", stream.head.summary());
    let _ = stream.read(4096);
    stream
}

#[test]
fn missing_decoders_give_503_naming_the_tool_and_plain_files_still_stream() {
    let empty = tool_dir(&[]);
    let server =
        TestServer::start_with(small_library(), &[], &[("PATH", empty.path().as_os_str())]);
    const CASES: &[(&str, &[&str])] =
        &[("/stream/wav/a.wv", &["wvunpack"]), ("/stream/wav/a.wma", &["ffprobe", "ffmpeg"])];
    for (target, tools) in CASES {
        let response = server.get_and_head(target, &[], target);
        assert_eq!(response.status, 503, "{target}: {}", response.summary());
        let message = server.get(target, &[("Range", "bytes=100-")]).expect_json_error();
        assert!(
            tools.iter().any(|tool| message.contains(tool)),
            "{target}: `{message}` names none of {tools:?}"
        );
    }
    for rel in ["a.mp3", "a.wv"] {
        let response = server.get(&format!("/stream/{rel}"), &[]);
        assert_eq!(response.status, 200, "/stream/{rel} without decoders: {}", response.summary());
        assert_same_bytes(&response.body, &server.library().read(rel), rel);
    }

    // ffprobe alone: the format is known, the decoder still missing, and that must be a
    // 503 naming ffmpeg, not a 200 whose audio never comes.
    let probe_only = tool_dir(&["ffprobe"]);
    let server =
        TestServer::start_with(small_library(), &[], &[("PATH", probe_only.path().as_os_str())]);
    let response = server.get("/stream/wav/a.wma", &[]);
    assert_eq!(response.status, 503, "WMA without ffmpeg: {}", response.summary());
    let message = response.expect_json_error();
    assert!(message.contains("ffmpeg"), "`{message}` does not name ffmpeg");
}

#[test]
fn decoder_cap_answers_503_with_retry_after_until_a_decoder_is_freed() {
    let server = TestServer::start_with(long_library(), &["--max-decoders", "1"], &[]);
    let holder = open_long_transcode(&server);

    for target in ["/stream/wav/a.wv", "/stream/wav/a.wma"] {
        let busy = server.get(target, &[]);
        assert_eq!(busy.status, 503, "{target} past the cap: {}", busy.summary());
        let retry = busy.expect_header("retry-after");
        assert!(
            retry.parse::<u32>().is_ok(),
            "{target}: Retry-After `{retry}` is not delay-seconds"
        );
        busy.expect_json_error();
    }
    let plain = server.get("/stream/a.mp3", &[]);
    assert_eq!(plain.status, 200, "plain files are not capped: {}", plain.summary());

    drop(holder);
    let expected = wav_file(TRANSCODE_FORMATS[1].layout, &TRANSCODE_FORMATS[1].pcm());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.get("/stream/wav/a.wv", &[("Range", "bytes=0-4095")]);
        if response.status == 206 {
            let what = "after the holder left";
            assert_ranges(&response, &expected, &[(0, 4095)], "audio/wav", what);
            break;
        }
        assert_eq!(
            response.status,
            503,
            "while waiting for the freed decoder: {}",
            response.summary()
        );
        assert!(Instant::now() < deadline, "the decoder of a dropped stream was not freed in 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn aborted_transcodes_leave_no_decoder_process_zombie_or_extra_fd() {
    let server = TestServer::start(long_library());
    // Warm up whatever the server opens once (the child-process signal pipe, the runtime's
    // threads) with finished transcodes; they too must leave nothing behind.
    for target in ["/stream/wav/a.wv", "/stream/wav/a.wma"] {
        assert_eq!(server.get(target, &[]).status, 200, "{target}");
    }
    server.assert_settles(usize::MAX, Duration::from_secs(5), "after two finished transcodes");
    let idle_fds = server.fds().len();

    let mut rng = SplitMix64(0xAB0);
    let (mut busy, deadline) = (0, Instant::now() + Duration::from_secs(40));
    for i in 0..100 {
        let target = if i % 5 == 4 { "/stream/wav/long.wma" } else { "/stream/wav/long.wv" };
        // Half open at the start, half at a random 32 KiB-aligned offset, as Chromium does.
        let range = if i % 2 == 0 {
            "bytes=0-".to_owned()
        } else {
            format!("bytes={}-", rng.below(800) * 32 * 1024)
        };
        loop {
            let mut stream = OpenStream::open(server.addr(), target, &[("Range", &range)]);
            if stream.head.status == 503 && Instant::now() < deadline {
                // Decoders of the previous aborts may take a moment to go.
                busy += 1;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            assert_eq!(
                stream.head.status,
                206,
                "abort {i}, {target} {range}: {}",
                stream.head.summary()
            );
            let _ = stream.read(4096);
            break; // dropped: the abort
        }
    }
    eprintln!("100 aborted transcodes: {busy} busy answers on the way");
    server.assert_settles(idle_fds + 2, Duration::from_secs(5), "after 100 aborted transcodes");
    // One at a time, too: each abort must be cleaned up by itself, not by a later
    // request's decoder happening to exit.
    for (i, target) in
        ["/stream/wav/long.wv", "/stream/wav/long.wma"].iter().cycle().take(10).enumerate()
    {
        let _ = OpenStream::open(server.addr(), target, &[("Range", "bytes=0-")]).read(4096);
        let what = format!("2 s after lone abort {i} ({target})");
        server.assert_settles(idle_fds + 2, Duration::from_secs(2), &what);
    }
    assert_eq!(server.get("/health", &[]).status, 200, "the server stopped serving");
}

/// How many fresh servers `first_aborted_transcode_…` tries: whether a decoder is reaped can
/// depend on which thread sees its exit first, so one try can pass by luck.
const FRESH_SERVERS: usize = 5;

#[test]
fn first_aborted_transcode_of_a_fresh_server_leaves_no_zombie_while_it_idles() {
    for round in 0..FRESH_SERVERS {
        let library = Library::empty();
        library.add("long.wv", &transcode_media("long.wv"));
        let server = TestServer::start(library);
        drop(open_long_transcode(&server));
        let what = format!("fresh server {round}, 2 s after its first transcode was aborted");
        server.assert_settles(usize::MAX, Duration::from_secs(2), &what);
    }
}

#[test]
fn stalled_transcode_is_ended_and_its_decoder_killed_at_the_request_timeout() {
    let server = TestServer::start_with(long_library(), &["--request-timeout", "2"], &[]);
    let mut stalled = open_long_transcode(&server);
    assert!(!server.children().is_empty(), "no decoder is running for an open transcode");
    // The client keeps the socket and reads nothing more: at the deadline the server must
    // end the response and its decoder, without the client's help.
    let idle = server.settles(usize::MAX, Duration::from_secs(5));
    // What the kernel buffered is still readable; then the connection must end, short.
    stalled.socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut sent = stalled.taken + stalled.pending.len() as u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stalled.socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the stalled connection open past its deadline: {e}"),
        }
    }
    assert!(sent < stalled.head.content_length(), "the stalled response was not cut short");
    if let Err(left) = idle {
        panic!("from a stalled transcode's 2 s deadline: {left}");
    }
}
