//! Who may read the library API and what it can read: a tenant's path prefix and token on
//! every endpoint and on the URLs it hands out, the stream guest's errors for bad paths,
//! nothing outside the music dir (the library guest's own sandbox), and the same answers
//! whatever guest serves `/stream`.

use std::path::Path;

use crate::support::api::{assert_error, browse_url, cover_url, get_json, track_url};
use crate::support::config::{ConfigDir, Tenant};
use crate::support::guest::HOSTILE_GUEST;
use crate::support::library::{SECRET_MARKER, SIBLING_SECRET};
use crate::support::tagged::{Encoding, FRONT, SONG, Song, TagKind, make, picture};
use crate::support::{Library, TestServer, assert_same_bytes};

const TOKEN: &str = "lib-s3cret";
const MP3: Encoding = Encoding::short("mp3", &["-c:a", "libmp3lame", "-b:a", "32k"]);
const WV: Encoding = Encoding::short("wv", &["-c:a", "wavpack"]);

/// An album with an embedded cover, a `.wv` beside a `cover.jpg`, and a tagged mp3
/// outside the music dir with symlinks to it and to its folder.
fn library() -> Library {
    let library = Library::empty();
    let cover = picture(FRONT, "red", "image/jpeg");
    library.add("Album Ü/01 - first.mp3", &make(&MP3, TagKind::Id3v24, Some(&SONG), &[cover]));
    library.add("Lossless/08 - wv.wv", &make(&WV, TagKind::Ape, Some(&Song::titled("WV")), &[]));
    library.add("Lossless/cover.jpg", &picture(FRONT, "blue", "image/jpeg").bytes);
    let outside = library.root().join("outside/real.mp3");
    let secret = Song::titled(SECRET_MARKER);
    std::fs::write(&outside, make(&MP3, TagKind::Id3v24, Some(&secret), &[]))
        .expect("write outside");
    library.add_symlink("escape.mp3", &outside);
    library.add_symlink("Escape Dir", &library.root().join("outside"));
    library
}

#[test]
fn under_a_prefix_and_token_every_url_carries_the_prefix_and_works_with_the_token() {
    let (library, config) = (library(), ConfigDir::new());
    let tenant = Tenant::new("alice", library.music_dir()).path_prefix("/alice").token(TOKEN);
    let server = TestServer::start_config(&config.config("tapedeck.toml", false, &[tenant]));
    let query = format!("token={TOKEN}");
    let bearer = format!("Bearer {TOKEN}");

    let root = get_json(&server, &format!("/alice{}", browse_url("", &query)), &[]);
    assert_eq!(root["dirs"][0]["name"], "Album Ü", "{root}");
    for dir in ["Album Ü", "Lossless"] {
        let target = format!("/alice{}", browse_url(dir, ""));
        let page = get_json(&server, &target, &[("Authorization", &bearer)]);
        for track in page["tracks"].as_array().unwrap() {
            let rel = track["path"].as_str().unwrap();
            let alone = get_json(&server, &format!("/alice{}?{query}", track_url(rel)), &[]);
            assert_eq!(&alone, track, "browse vs /api/track under a prefix");
            let play = track["play"].as_str().unwrap();
            let wav = rel.ends_with(".wv");
            let route = if wav { "/alice/stream/wav/" } else { "/alice/stream/" };
            assert!(play.starts_with(route), "{rel}: play is {play}");
            let played = server.get(&format!("{play}?{query}"), &[]);
            assert_eq!(played.status, 200, "{play}: {}", played.summary());
            if wav {
                assert_eq!(played.header("content-type").as_deref(), Some("audio/wav"), "{play}");
            } else {
                assert_same_bytes(&played.body, &library.read(rel), play);
            }
            let cover = track["cover"].as_str().expect("both have a cover");
            assert_eq!(cover, format!("/alice{}", cover_url(rel)));
            let image = server.get(cover, &[("Authorization", &bearer)]);
            assert_eq!(image.header("content-type").as_deref(), Some("image/jpeg"), "{cover}");
            assert!(image.body.starts_with(b"\xFF\xD8\xFF"), "{cover}: {}", image.summary());
        }
    }
    let page = server.get(&format!("/alice/?{query}"), &[]);
    assert_eq!(page.status, 200, "{}", page.summary());
    assert!(page.expect_header("content-type").starts_with("text/html"));

    // Without the token, or with a wrong one: 401 on every endpoint, the page included.
    for target in [
        "/alice/".to_owned(),
        format!("/alice{}", browse_url("", "")),
        format!("/alice{}", browse_url("Album Ü", "token=wrong")),
        format!("/alice{}", track_url("Album Ü/01 - first.mp3")),
        format!("/alice{}", cover_url("Album Ü/01 - first.mp3")),
        format!("/alice{}", cover_url("Lossless")),
    ] {
        let response = server.get(&target, &[]);
        assert_eq!(response.status, 401, "{target}: {}", response.summary());
        assert_eq!(response.header("www-authenticate").as_deref(), Some("Bearer"), "{target}");
        response.expect_json_error();
    }
    // Outside the prefix there is no tenant.
    assert_error(&server, &browse_url("", &query), &[], 404);
}

#[test]
fn the_page_is_html_at_the_root() {
    let server = TestServer::start(Library::empty());
    for target in ["/", "/index.html"] {
        let page = server.get_and_head(target, &[], target);
        assert_eq!(page.status, 200, "{target}: {}", page.summary());
        assert!(page.expect_header("content-type").starts_with("text/html"), "{target}");
        assert!(page.text().to_ascii_lowercase().contains("<html"), "{target}");
    }
}

#[test]
fn bad_paths_get_the_stream_errors_and_nothing_outside_is_read() {
    let server = TestServer::start(library());
    let (track, cover, browse) = ("/api/track", "/api/cover", "/api/browse");
    #[rustfmt::skip]
    let cases: &[(&str, &str, u16)] = &[
        (track, "missing.mp3", 404), (track, "Lossless/cover.jpg", 404), (track, "Album%20%C3%9C", 404),
        (track, "../outside/real.mp3", 403), (track, "..%2foutside%2freal.mp3", 403),
        (track, "%2e%2e/music-sibling/secret.mp3", 403), (track, "a%00.mp3", 400),
        (cover, "..%2fmusic-sibling", 403), (cover, "a%00", 400), (browse, "Lossless%00", 400),
        ("/api", "nope", 404),
    ];
    for (route, rest, status) in cases {
        let target = format!("{route}/{rest}");
        let message = assert_error(&server, &target, &[], *status);
        assert!(
            !message.contains("/tmp") && !message.contains(SECRET_MARKER),
            "{target}: {message}"
        );
    }
    let sibling = server.get(&track_url(SIBLING_SECRET), &[]);
    assert!([403, 404].contains(&sibling.status), "{}", sibling.summary());

    // A symlink out of the music dir is not listed, and its file's tags are never read.
    let root = get_json(&server, &browse_url("", ""), &[]);
    assert!(!root.to_string().contains("escape") && !root.to_string().contains("Escape"), "{root}");
    for target in [
        track_url("escape.mp3"),
        cover_url("escape.mp3"),
        track_url("Escape Dir/real.mp3"),
        browse_url("Escape Dir", ""),
    ] {
        let response = server.get_and_head(&target, &[], &target);
        assert!([403, 404].contains(&response.status), "{target}: {}", response.summary());
        assert!(!response.text().contains(SECRET_MARKER), "{target}: {}", response.summary());
        response.expect_json_error();
    }
}

#[test]
fn a_hostile_stream_guest_does_not_change_the_library_api() {
    let plain = TestServer::start(library());
    let hostile = TestServer::start_with_guest(library(), Path::new(HOSTILE_GUEST));
    for target in [
        browse_url("", ""),
        browse_url("Album Ü", ""),
        browse_url("Lossless", "limit=1"),
        track_url("Album Ü/01 - first.mp3"),
        track_url("Lossless/08 - wv.wv"),
    ] {
        assert_eq!(get_json(&hostile, &target, &[]), get_json(&plain, &target, &[]), "{target}");
    }
    let (ours, theirs) = (cover_url("Album Ü/01 - first.mp3"), cover_url("Lossless"));
    for target in [ours, theirs] {
        let (a, b) = (hostile.get(&target, &[]), plain.get(&target, &[]));
        assert_eq!(a.status, 200, "{target}: {}", a.summary());
        assert_same_bytes(&a.body, &b.body, &target);
    }
    for target in [track_url("escape.mp3"), browse_url("Escape Dir", "")] {
        let response = hostile.get(&target, &[]);
        assert!([403, 404].contains(&response.status), "{target}: {}", response.summary());
        assert!(!response.text().contains(SECRET_MARKER), "{target}");
    }
}
