//! Validators and conditional requests (RFC 9110 §8.8, §13): ETag, Last-Modified, the five
//! precondition headers and their precedence (§13.2.2).

use std::time::Duration;

use crate::support::byteranges::assert_ranges;
use crate::support::library::{MTIME_HTTP, SMALL};
use crate::support::server::stream_url;
use crate::support::{Library, Response, TestServer, assert_same_bytes};

const PAST: &str = "Sat, 01 Jan 2000 00:00:00 GMT";
/// An hour after the files' Last-Modified (and still in the past).
const LATER: &str = "Sun, 15 Jun 2025 13:00:00 GMT";
/// `MTIME_HTTP` in the two obsolete formats every recipient must accept (RFC 9110 §5.6.7).
const MTIME_RFC850: &str = "Sunday, 15-Jun-25 12:00:00 GMT";
const MTIME_ASCTIME: &str = "Sun Jun 15 12:00:00 2025";

/// A server on the standard library and the current strong ETag of `SMALL`.
fn server_and_etag() -> (TestServer, String) {
    let server = TestServer::start(Library::standard());
    let etag = server.stream(SMALL, &[]).expect_header("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() >= 3,
        "not a strong ETag: `{etag}`"
    );
    (server, etag)
}

/// One conditional request: a name, its headers, the status it must get.
type Row<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

/// Runs each `(name, headers, status)` row for GET and HEAD (which must match) and checks
/// the status; a 200 must carry the whole file, a 304 the current `etag`, a 206 the range
/// asked (always `bytes=0-9`), a 412 a JSON error and no byte of the file.
#[track_caller]
fn run_table(server: &TestServer, etag: &str, rows: &[Row<'_>]) {
    let file = server.library().read(SMALL);
    let target = stream_url(SMALL);
    for (name, headers, status) in rows {
        let what = format!("{name} {headers:?}");
        let get = server.get_and_head(&target, headers, &what);
        assert_eq!(get.status, *status, "{what}: {}", get.summary());
        match status {
            200 => assert_same_bytes(&get.body, &file, name),
            // `get` refuses any byte after the head of a 304.
            304 => assert_eq!(get.header("etag").as_deref(), Some(etag), "{what}: ETag"),
            206 => assert_ranges(&get, &file, &[(0, 9)], "audio/mpeg", &what),
            _ => {
                get.expect_json_error();
                assert!(
                    !get.body.windows(16).any(|w| file.windows(16).any(|f| f == w)),
                    "{what}: file bytes in an error"
                );
            }
        }
    }
}

#[test]
fn validators_are_on_every_200_206_and_304() {
    let (server, etag) = server_and_etag();
    let responses: [(&str, Response); 3] = [
        ("200", server.stream(SMALL, &[])),
        ("206", server.stream(SMALL, &[("Range", "bytes=0-9")])),
        ("304", server.stream(SMALL, &[("If-None-Match", &etag)])),
    ];
    for (name, response) in &responses {
        assert_eq!(response.status.to_string(), *name, "{}", response.summary());
        assert_eq!(response.header("etag").as_ref(), Some(&etag), "{name}: ETag");
        assert_eq!(
            response.header("last-modified").as_deref(),
            Some(MTIME_HTTP),
            "{name}: Last-Modified"
        );
        assert!(
            response.header("cache-control").is_some(),
            "{name}: no Cache-Control: {}",
            response.summary()
        );
    }
}

#[test]
fn if_none_match_with_the_current_etag_is_304() {
    let (server, etag) = server_and_etag();
    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {etag}");
    run_table(
        &server,
        &etag,
        &[
            ("current", vec![("If-None-Match", &etag)], 304),
            ("in_a_list", vec![("If-None-Match", &listed)], 304),
            ("star", vec![("If-None-Match", "*")], 304),
            // §13.1.2: If-None-Match compares weakly.
            ("weak_form_matches", vec![("If-None-Match", &weak)], 304),
            ("other", vec![("If-None-Match", "\"other\"")], 200),
            ("on_a_range_request", vec![("If-None-Match", &etag), ("Range", "bytes=0-9")], 304),
            // §5.3: repeated fields are one list; the match may be in any of them.
            (
                "in_the_second_of_two_fields",
                vec![("If-None-Match", "\"other\""), ("If-None-Match", &etag)],
                304,
            ),
            (
                "in_neither_of_two_fields",
                vec![("If-None-Match", "\"other\""), ("If-None-Match", "\"another\"")],
                200,
            ),
        ],
    );
}

#[test]
fn if_modified_since_at_or_after_last_modified_is_304() {
    let (server, etag) = server_and_etag();
    run_table(
        &server,
        &etag,
        &[
            ("equal", vec![("If-Modified-Since", MTIME_HTTP)], 304),
            ("later", vec![("If-Modified-Since", LATER)], 304),
            ("rfc850_form", vec![("If-Modified-Since", MTIME_RFC850)], 304),
            ("asctime_form", vec![("If-Modified-Since", MTIME_ASCTIME)], 304),
            ("earlier", vec![("If-Modified-Since", PAST)], 200),
            ("not_a_date", vec![("If-Modified-Since", "yesterday")], 200),
        ],
    );
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    let (server, etag) = server_and_etag();
    run_table(
        &server,
        &etag,
        &[
            // §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
            (
                "etag_differs_date_matches",
                vec![("If-None-Match", "\"other\""), ("If-Modified-Since", MTIME_HTTP)],
                200,
            ),
            (
                "etag_matches_date_old",
                vec![("If-None-Match", &etag), ("If-Modified-Since", PAST)],
                304,
            ),
        ],
    );
}

#[test]
fn if_match_mismatch_is_412() {
    let (server, etag) = server_and_etag();
    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {etag}");
    run_table(
        &server,
        &etag,
        &[
            ("other", vec![("If-Match", "\"other\"")], 412),
            // §13.1.1: If-Match compares strongly, so a weak tag never matches.
            ("weak_form_fails", vec![("If-Match", &weak)], 412),
            ("current", vec![("If-Match", &etag)], 200),
            ("in_a_list", vec![("If-Match", &listed)], 200),
            ("star", vec![("If-Match", "*")], 200),
            ("on_a_range_request", vec![("If-Match", "\"other\""), ("Range", "bytes=0-9")], 412),
        ],
    );
}

#[test]
fn if_unmodified_since_in_the_past_is_412() {
    let (server, etag) = server_and_etag();
    run_table(
        &server,
        &etag,
        &[
            ("earlier", vec![("If-Unmodified-Since", PAST)], 412),
            ("equal", vec![("If-Unmodified-Since", MTIME_HTTP)], 200),
            ("later", vec![("If-Unmodified-Since", LATER)], 200),
            ("not_a_date", vec![("If-Unmodified-Since", "yesterday")], 200),
        ],
    );
}

#[test]
fn preconditions_are_evaluated_in_rfc_9110_order() {
    let (server, etag) = server_and_etag();
    run_table(
        &server,
        &etag,
        &[
            // Step 2 (If-Unmodified-Since) applies only without If-Match.
            (
                "if_match_passes_so_old_ius_ignored",
                vec![("If-Match", &etag), ("If-Unmodified-Since", PAST)],
                200,
            ),
            // Step 1 (If-Match) fails before step 3 (If-None-Match) could give 304.
            ("412_before_304", vec![("If-Match", "\"other\""), ("If-None-Match", &etag)], 412),
            // Step 2 fails before step 4 (If-Modified-Since) could give 304.
            (
                "ius_412_before_ims_304",
                vec![("If-Unmodified-Since", PAST), ("If-Modified-Since", MTIME_HTTP)],
                412,
            ),
        ],
    );
}

#[test]
fn if_range_decides_between_206_and_200() {
    let (server, etag) = server_and_etag();
    let weak = format!("W/{etag}");
    run_table(
        &server,
        &etag,
        &[
            ("current_etag", vec![("Range", "bytes=0-9"), ("If-Range", &etag)], 206),
            ("stale_etag", vec![("Range", "bytes=0-9"), ("If-Range", "\"stale\"")], 200),
            // §13.1.5: a weak entity tag never matches in If-Range.
            ("weak_etag", vec![("Range", "bytes=0-9"), ("If-Range", &weak)], 200),
            (
                "date_equal_to_last_modified",
                vec![("Range", "bytes=0-9"), ("If-Range", MTIME_HTTP)],
                206,
            ),
            ("earlier_date", vec![("Range", "bytes=0-9"), ("If-Range", PAST)], 200),
            // An exact match is required: a later date is not the representation's date.
            ("later_date", vec![("Range", "bytes=0-9"), ("If-Range", LATER)], 200),
            ("garbage", vec![("Range", "bytes=0-9"), ("If-Range", "whatever")], 200),
            ("without_range", vec![("If-Range", &etag)], 200),
        ],
    );
}

#[test]
fn not_modified_has_no_body_and_keeps_the_validators() {
    let (server, etag) = server_and_etag();
    let response = server.stream(SMALL, &[("If-None-Match", &etag)]);
    // `stream` refuses any byte after the head of a 304.
    assert_eq!(response.status, 304, "{}", response.summary());
    assert_eq!(response.header("etag").as_ref(), Some(&etag));
    assert_eq!(response.header("last-modified").as_deref(), Some(MTIME_HTTP));
    // §15.4.5: a 304 has no content, so it carries no Content-Range or error body.
    assert_eq!(response.header("content-range"), None);
}

#[test]
fn etag_and_last_modified_change_when_the_file_changes() {
    let (server, old_etag) = server_and_etag();
    let mut changed = server.library().read(SMALL);
    changed[0] ^= 0xFF;
    server.library().add(SMALL, &changed);
    server.library().set_mtime(SMALL, Duration::from_secs(3600));

    let response = server.stream(SMALL, &[("If-None-Match", &old_etag)]);
    assert_eq!(
        response.status,
        200,
        "the old ETag must not match the new file: {}",
        response.summary()
    );
    assert_same_bytes(&response.body, &changed, "changed file");
    let new_etag = response.expect_header("etag");
    assert_ne!(new_etag, old_etag);
    assert_eq!(response.header("last-modified").as_deref(), Some(LATER));

    let again = server.stream(SMALL, &[("If-None-Match", &new_etag)]);
    assert_eq!(again.status, 304, "{}", again.summary());
    let stale_range = server.stream(SMALL, &[("Range", "bytes=0-9"), ("If-Range", &old_etag)]);
    assert_eq!(stale_range.status, 200, "If-Range with the old ETag: {}", stale_range.summary());
}
