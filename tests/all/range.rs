//! Range requests (RFC 9110 §14): single and multiple ranges, unsatisfiable and malformed
//! ones, amplification, the way Chromium asks, and offsets past 4 GiB.

use crate::support::byteranges::assert_ranges;
use crate::support::connection::get_prefix;
use crate::support::http::Response;
use crate::support::library::{SMALL, SMALL_LEN, WAV};
use crate::support::server::stream_url;
use crate::support::{Library, TestServer, assert_same_bytes};

/// What a Range header must produce on `SMALL` (2000 bytes).
#[derive(Debug)]
enum Expect {
    /// 206 with exactly these inclusive ranges, in order: one range is a plain 206 with
    /// `Content-Range`; several are `multipart/byteranges`.
    Ranges(&'static [(u64, u64)]),
    /// 416 with `Content-Range: bytes */2000`.
    Unsatisfiable,
    /// The header is ignored: 200 with the whole file.
    Ignored,
}

use Expect::{Ignored, Ranges, Unsatisfiable};

/// `(name, Range header, expected outcome)` on `SMALL`.
const CASES: &[(&str, &str, Expect)] = &[
    ("first_byte", "bytes=0-0", Ranges(&[(0, 0)])),
    ("bounded", "bytes=100-199", Ranges(&[(100, 199)])),
    ("open_ended", "bytes=1500-", Ranges(&[(1500, 1999)])),
    ("suffix", "bytes=-500", Ranges(&[(1500, 1999)])),
    ("last_byte", "bytes=1999-1999", Ranges(&[(1999, 1999)])),
    ("whole_file_as_range", "bytes=0-1999", Ranges(&[(0, 1999)])),
    ("end_past_eof_is_clamped", "bytes=1900-5000", Ranges(&[(1900, 1999)])),
    ("suffix_longer_than_file", "bytes=-5000", Ranges(&[(0, 1999)])),
    // RFC 9110 §14.1: range unit names are case-insensitive.
    ("unit_is_case_insensitive", "Bytes=10-19", Ranges(&[(10, 19)])),
    // Gaps far larger than a part's headers: coalescing them (RFC 9110 §14.6) would not pay.
    ("two_ranges", "bytes=0-9,1000-1099", Ranges(&[(0, 9), (1000, 1099)])),
    (
        "three_ranges_with_suffix",
        "bytes=0-9,500-599,-5",
        Ranges(&[(0, 9), (500, 599), (1995, 1999)]),
    ),
    ("spaces_after_commas", "bytes=0-9, 1000-1009", Ranges(&[(0, 9), (1000, 1009)])),
    // RFC 9110 §14.1.1: only the satisfiable ranges are served.
    ("unsatisfiable_member_is_dropped", "bytes=5000-6000,0-9", Ranges(&[(0, 9)])),
    ("start_at_eof", "bytes=2000-", Unsatisfiable),
    ("start_past_eof", "bytes=5000-6000", Unsatisfiable),
    ("zero_suffix", "bytes=-0", Unsatisfiable),
    ("all_members_unsatisfiable", "bytes=2000-2001,3000-", Unsatisfiable),
    ("not_a_number", "bytes=abc", Ignored),
    ("empty_set", "bytes=", Ignored),
    ("lone_dash", "bytes=-", Ignored),
    ("reversed", "bytes=5-2", Ignored),
    ("plus_sign", "bytes=+1-2", Ignored),
    ("three_numbers", "bytes=1-2-3", Ignored),
    ("hex", "bytes=0x10-20", Ignored),
    ("valid_then_garbage", "bytes=0-1,abc", Ignored),
    ("other_unit", "pages=0-1", Ignored),
    ("no_unit", "0-1", Ignored),
    ("space_instead_of_equals", "bytes 0-1", Ignored),
    // Digits past u64 are still valid syntax (`1*DIGIT`): a huge end is an end past EOF, a
    // huge start or suffix is past the length.
    ("end_beyond_u64_is_clamped", "bytes=0-99999999999999999999999", Ranges(&[(0, 1999)])),
    ("start_beyond_u64_is_unsatisfiable", "bytes=99999999999999999999999-", Unsatisfiable),
    ("suffix_beyond_u64_is_the_whole_file", "bytes=-99999999999999999999999", Ranges(&[(0, 1999)])),
];

#[test]
fn range_header_table_for_get_and_head() {
    let server = TestServer::start(Library::standard());
    let file = server.library().read(SMALL);
    assert_eq!(file.len(), SMALL_LEN);
    for (name, range, expect) in CASES {
        let response = server.get_and_head(&stream_url(SMALL), &[("Range", range)], name);
        check(&response, expect, &file, name);
    }
}

/// Asserts that `response` is what `expect` says for `file`, with exact bytes.
#[track_caller]
fn check(response: &Response, expect: &Expect, file: &[u8], name: &str) {
    let len = file.len() as u64;
    match expect {
        Ignored => {
            assert_eq!(response.status, 200, "{name}: {}", response.summary());
            assert_same_bytes(&response.body, file, name);
        }
        Unsatisfiable => {
            assert_eq!(response.status, 416, "{name}: {}", response.summary());
            assert_eq!(response.header("content-range"), Some(format!("bytes */{len}")), "{name}");
            response.expect_json_error();
        }
        Ranges(ranges) => assert_ranges(response, file, ranges, "audio/mpeg", name),
    }
}

#[test]
fn overlapping_and_many_ranges_do_not_amplify_the_response() {
    let many_small: String =
        (0..500).map(|i| format!("{}-{}", i * 2, i * 2)).collect::<Vec<_>>().join(",");
    let same_range_repeated = vec!["0-"; 50].join(",");
    let cases = [
        // Served as asked, five open-ended ranges would send the file five times.
        ("five_open_ranges", "bytes=0-,1-,2-,3-,4-".to_owned(), Ranges(&[(0, 1999)])),
        ("same_range_repeated", format!("bytes={same_range_repeated}"), Ranges(&[(0, 1999)])),
        // 500 one-byte parts would cost more in part headers than the file: the header is
        // ignored.
        ("many_small_ranges", format!("bytes={many_small}"), Ignored),
        ("overlapping_pair", "bytes=0-1500,500-1999".to_owned(), Ranges(&[(0, 1999)])),
    ];
    let server = TestServer::start(Library::standard());
    let file = server.library().read(SMALL);
    // A couple of part headers at most on top of the file itself.
    let budget = file.len() + 512;
    for (name, range, expect) in &cases {
        let response = server.get_and_head(&stream_url(SMALL), &[("Range", range)], name);
        assert!(
            response.body.len() <= budget,
            "{name}: {} body bytes for a {}-byte file: {}",
            response.body.len(),
            file.len(),
            response.summary()
        );
        check(&response, expect, &file, name);
    }
}

#[test]
fn overlapping_ranges_still_cover_what_was_asked() {
    let server = TestServer::start(Library::standard());
    let file = server.library().read(SMALL);
    let response = server.stream(SMALL, &[("Range", "bytes=0-9,5-14,100-109")]);
    // Overlapping ranges are merged (RFC 9110 §14.6); a range far from them stays a part.
    check(&response, &Ranges(&[(0, 14), (100, 109)]), &file, "overlap");
}

#[test]
fn chromium_style_open_ranges_at_32_kib_steps_are_exact() {
    let server = TestServer::start(Library::standard());
    let file = server.library().read(WAV);
    let len = file.len() as u64;
    for start in [0u64, 32768, 65536, 98304, 131072] {
        let range = format!("bytes={start}-");
        let response = server.stream(WAV, &[("Range", &range)]);
        assert_ranges(&response, &file, &[(start, len - 1)], "audio/wav", &range);
    }
}

#[test]
fn aborted_range_requests_do_not_disturb_the_next_ones() {
    let library = Library::standard();
    let big_len = (5 << 30) + 5;
    library.add_big_file("long.flac", big_len);
    let server = TestServer::start(library);
    // Chromium opens `bytes=0-` and cancels it; on a 5 GiB file a stuck server would show.
    for start in [0u64, 32768, 1 << 20, 1 << 31] {
        let range = format!("bytes={start}-");
        let partial = get_prefix(server.addr(), "/stream/long.flac", &[("Range", &range)], 1000);
        assert_eq!(partial.status, 206, "{range}: {}", partial.summary());
        assert_eq!(partial.content_length(), big_len - start, "{range}");
    }
    let file = server.library().read(WAV);
    assert_same_bytes(&server.stream(WAV, &[]).body, &file, "a whole file after the aborts");
    server.assert_alive();
}

#[test]
fn offsets_past_4_gib_are_exact() {
    let library = Library::empty();
    let len: u64 = (5 << 30) + 123;
    let markers = library.add_big_file("big.flac", len);
    let server = TestServer::start(library);

    let head = server.head("/stream/big.flac", &[]);
    assert_eq!(head.status, 200, "{}", head.summary());
    assert_eq!(head.content_length(), len, "Content-Length of a 5 GiB file");

    for (offset, marker) in markers {
        let last = offset + marker.len() as u64 - 1;
        let range = format!("bytes={offset}-{last}");
        let response = server.stream("big.flac", &[("Range", &range)]);
        assert_eq!(response.status, 206, "{range}: {}", response.summary());
        assert_eq!(response.header("content-range"), Some(format!("bytes {offset}-{last}/{len}")));
        assert_same_bytes(&response.body, marker, &range);
    }
    let suffix = server.stream("big.flac", &[("Range", "bytes=-16")]);
    assert_eq!(
        suffix.header("content-range"),
        Some(format!("bytes {}-{}/{len}", len - 16, len - 1))
    );
    assert_same_bytes(&suffix.body, markers[2].1, "suffix of a 5 GiB file");

    let open = get_prefix(server.addr(), "/stream/big.flac", &[("Range", "bytes=4294967296-")], 16);
    assert_eq!(open.status, 206, "{}", open.summary());
    assert_eq!(open.header("content-range"), Some(format!("bytes 4294967296-{}/{len}", len - 1)));
    assert_eq!(open.content_length(), len - (1 << 32));
    assert_same_bytes(&open.body, markers[1].1, "open range from 4 GiB");

    let unsatisfiable = server.stream("big.flac", &[("Range", &format!("bytes={len}-"))]);
    assert_eq!(unsatisfiable.status, 416, "{}", unsatisfiable.summary());
    assert_eq!(unsatisfiable.header("content-range"), Some(format!("bytes */{len}")));
}
