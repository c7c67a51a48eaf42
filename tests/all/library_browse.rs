//! `/api/browse`: a directory's subfolders and audio files in natural order, no dotfiles,
//! nothing a symlink takes outside; its tracks paged with `offset` and `limit` so that
//! paging through gives every track exactly once.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::api::{assert_error, assert_revalidates, browse_url, get_json};
use crate::support::library::{OUTSIDE_LINK, SECRET_MARKER};
use crate::support::media::{Format, encoded};
use crate::support::{Library, TestServer};

/// Tracks in the big folder: more than two pages of the largest limit.
const MANY: usize = 1000;

/// The names of the tracks of a page.
fn names(page: &Value) -> Vec<String> {
    page["tracks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tracks: {page}"))
        .iter()
        .map(|track| track["path"].as_str().expect("path").rsplit('/').next().unwrap().to_owned())
        .collect()
}

/// Every track of `dir` in pages of `limit` (the default when `None`), asserting each
/// page's `total`, `offset`, `limit` and `dirs`.
fn page_through(server: &TestServer, dir: &str, limit: Option<usize>, dirs: &Value) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        let query = match limit {
            Some(limit) => format!("offset={}&limit={limit}", all.len()),
            None if all.is_empty() => String::new(),
            None => format!("offset={}", all.len()),
        };
        let page = get_json(server, &browse_url(dir, &query), &[]);
        let what = format!("{dir}?{query}");
        assert_eq!(page["total"], MANY, "{what}");
        assert_eq!(page["offset"], all.len(), "{what}");
        assert_eq!(page["limit"], limit.unwrap_or(100), "{what}");
        assert_eq!(&page["dirs"], dirs, "{what}: the dirs are on every page");
        let names = names(&page);
        if names.is_empty() {
            return all;
        }
        assert!(names.len() <= limit.unwrap_or(100), "{what}: {} tracks", names.len());
        all.extend(names);
    }
}

#[test]
fn a_thousand_tracks_page_through_exactly_once_in_natural_order() {
    let library = Library::empty();
    let mp3 = encoded(Format::Mp3);
    // Written in an order that is neither natural nor lexical.
    for n in (1..=MANY).rev() {
        library.add(&format!("Big/{n} - track.mp3"), &mp3);
    }
    library.add("Big/Sub 10/x.mp3", &mp3);
    library.add("Big/Sub 9/x.mp3", &mp3);
    let server = TestServer::start(library);
    let dirs =
        json!([{"name": "Sub 9", "path": "Big/Sub 9"}, {"name": "Sub 10", "path": "Big/Sub 10"}]);
    let natural: Vec<String> = (1..=MANY).map(|n| format!("{n} - track.mp3")).collect();

    for limit in [Some(500), None] {
        let all = page_through(&server, "Big", limit, &dirs);
        assert_eq!(all.len(), MANY, "limit {limit:?}");
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), MANY, "a track listed twice");
        assert_eq!(all, natural, "limit {limit:?}: not in natural order");
    }
    // A limit over the maximum is lowered to it; an offset past the end is an empty page.
    let capped = get_json(&server, &browse_url("Big", "limit=1000"), &[]);
    assert_eq!((capped["limit"].as_u64(), names(&capped).len()), (Some(500), 500));
    let past = get_json(&server, &browse_url("Big", "offset=5000"), &[]);
    assert_eq!((past["total"].as_u64(), names(&past).len()), (Some(MANY as u64), 0));
    assert_eq!(past["dirs"], dirs);
}

#[test]
fn a_listing_has_folders_and_audio_files_only_in_natural_order_and_nothing_outside() {
    let library = Library::empty();
    let mp3 = encoded(Format::Mp3);
    for name in [
        "10 - ten.mp3",
        "2 - two.MP3",
        "1 - one.Flac",
        "b.OGG",
        "a.wv",
        "c.m4b",
        "d.Opus",
        "e.wma",
        "f.wav",
        "g.m4a",
        ".hidden.mp3",
        "notes.txt",
        "cover.jpg",
        "README",
        "x.mp3.txt",
        "Disc 10/a.mp3",
        "Disc 2/a.mp3",
        ".git/a.mp3",
        "album.mp3/inside.mp3",
    ] {
        library.add(&format!("Mixed/{name}"), &mp3);
    }
    // Symlinks: to a file and a folder inside (listed), outside (not), and dangling (not).
    library.add_symlink("Mixed/link inside.mp3", "10 - ten.mp3".as_ref());
    library.add_symlink("Mixed/Linked Disc", "Disc 2".as_ref());
    library.add_symlink("Mixed/escape.mp3", &library.root().join("outside/secret.mp3"));
    library.add_symlink("Mixed/Escape Dir", &library.root().join("outside"));
    library.add_symlink("Mixed/dangling.mp3", "nowhere.mp3".as_ref());
    let server = TestServer::start(library);

    let page = get_json(&server, &browse_url("Mixed", ""), &[]);
    assert!(!page.to_string().contains(SECRET_MARKER), "{page}");
    assert_eq!(page["path"], "Mixed");
    let dirs: Vec<&str> =
        page["dirs"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(dirs, ["album.mp3", "Disc 2", "Disc 10", "Linked Disc"], "{page}");
    assert_eq!(page["dirs"][1]["path"], "Mixed/Disc 2");
    #[rustfmt::skip]
    let tracks = ["1 - one.Flac", "2 - two.MP3", "10 - ten.mp3", "a.wv", "b.OGG", "c.m4b", "d.Opus", "e.wma",
        "f.wav", "g.m4a", "link inside.mp3"];
    assert_eq!(names(&page), tracks, "{page}");
    assert_eq!(page["total"], tracks.len());

    // The root, with and without the slash; the escaping link is not listed there either.
    let root = get_json(&server, "/api/browse/", &[]);
    assert_eq!(root, get_json(&server, "/api/browse", &[]));
    assert_eq!(root["path"], "");
    assert_eq!(root["dirs"], json!([{"name": "Mixed", "path": "Mixed"}]));
    assert!(names(&root).iter().all(|name| name != OUTSIDE_LINK), "{root}");
    let linked = get_json(&server, &browse_url("Mixed/Linked Disc", ""), &[]);
    assert_eq!(names(&linked), ["a.mp3"]);
}

#[test]
fn browse_errors_are_the_stream_errors() {
    let library = Library::empty();
    library.add("Album/a.mp3", &encoded(Format::Mp3));
    library.add_symlink("Escape Dir", &library.root().join("outside"));
    let server = TestServer::start(library);
    #[rustfmt::skip]
    let cases: &[(&str, u16)] = &[
        ("/api/browse/Missing", 404), ("/api/browse/Album/a.mp3", 404), ("/api/browse/Album/Missing/", 404),
        ("/api/browse/..", 403), ("/api/browse/Album/..%2f..", 403), ("/api/browse/%2e%2e/music-sibling", 403),
        ("/api/browse/Al%00bum", 400), ("/api/browse/Album?offset=-1", 400), ("/api/browse/Album?limit=x", 400),
    ];
    for (target, status) in cases {
        assert_error(&server, target, &[], *status);
    }
    let escape = server.get("/api/browse/Escape%20Dir", &[]);
    assert!([403, 404].contains(&escape.status), "a folder outside: {}", escape.summary());
    escape.expect_json_error();
}

#[test]
fn a_listing_has_validators_and_answers_304_and_head_like_get() {
    let library = Library::empty();
    library.add("Album/01 - a.mp3", &encoded(Format::Mp3));
    library.add("Album/02 - b.flac", &encoded(Format::Flac));
    let server = TestServer::start(library);
    for target in
        [browse_url("Album", ""), browse_url("Album", "offset=1&limit=1"), browse_url("", "")]
    {
        assert_revalidates(&server, &target, &[]);
    }
    // Another page of the same folder is another representation.
    let first = server.get(&browse_url("Album", "limit=1"), &[]).expect_header("etag");
    let second = server.get(&browse_url("Album", "offset=1&limit=1"), &[]).expect_header("etag");
    assert_ne!(first, second, "two pages share an ETag");
}
