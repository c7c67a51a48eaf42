//! The web player in a real browser: `tests/browser/player.mjs` drives Debian's Chromium
//! against the real server, once at the root with no token and once as a tenant under a
//! path prefix with a token. It needs `node`, `/usr/bin/chromium` and playwright-core
//! (installed into `tests/browser/node_modules` here when missing).

use std::path::Path;

use serde_json::json;

use crate::support::config::{ConfigDir, Tenant};
use crate::support::tagged::{Encoding, FRONT, Song, TagKind, make, picture};
use crate::support::{Library, TestServer, browser};

const TOKEN: &str = "player-s3cret";
/// Set to `1` to write the first run's screenshot to `docs/player.png`.
const UPDATE_SCREENSHOT: &str = "TAPEDECK_UPDATE_SCREENSHOT";

/// Long enough for the script's seeks (60%, then back 10 s, then near the end) to be
/// distinct moments, short enough that playing to the end is quick.
const fn tone(ext: &'static str, args: &'static [&'static str]) -> Encoding {
    Encoding { ext, args, rate: 44_100, channels: 2, seconds: 6.0 }
}

/// `Album`: three tagged tracks of formats Chromium plays, the first with a cover;
/// `Lossless`: a `.wv` (decoded to WAV by the server) followed by a FLAC, beside a cover.
fn player_library() -> Library {
    let library = Library::empty();
    let cover = picture(FRONT, "orange", "image/jpeg");
    let mp3 = tone("mp3", &["-c:a", "libmp3lame", "-b:a", "128k"]);
    let flac = tone("flac", &["-c:a", "flac"]);
    let ogg = tone("ogg", &["-c:a", "libvorbis"]);
    let tracks: [(&str, &Encoding, TagKind, &'static str, &[_]); 5] = [
        ("Album/01 - first.mp3", &mp3, TagKind::Id3v24, "First Song", std::slice::from_ref(&cover)),
        ("Album/02 - second.flac", &flac, TagKind::Vorbis, "Second Song", &[]),
        ("Album/03 - third.ogg", &ogg, TagKind::Vorbis, "Third Song", &[]),
        (
            "Lossless/01 - tone.wv",
            &tone("wv", &["-c:a", "wavpack"]),
            TagKind::Ape,
            "WavPack Tone",
            &[],
        ),
        ("Lossless/02 - after.flac", &flac, TagKind::Vorbis, "After", &[]),
    ];
    for (rel, encoding, kind, title, pictures) in tracks {
        library.add(rel, &make(encoding, kind, Some(&Song::titled(title)), pictures));
    }
    library.add("Lossless/cover.jpg", &picture(FRONT, "purple", "image/jpeg").bytes);
    library
}

/// Runs the player script at `url`; fails with everything it printed if it fails.
#[track_caller]
fn run_player(url: &str, screenshot: Option<&Path>) {
    let expect = json!({"folder": "Album", "track": "First Song", "wvFolder": "Lossless", "wv": "WavPack Tone"});
    let expect = expect.to_string();
    let mut args = vec!["--url", url, "--expect", &expect];
    let screenshot = screenshot.map(|path| path.to_str().expect("a UTF-8 path").to_owned());
    if let Some(path) = &screenshot {
        args.extend(["--screenshot", path]);
    }
    browser::run_script("player.mjs", &args);
}

#[test]
fn web_player_plays_browses_and_seeks_in_chromium_at_the_root_and_under_a_tenant() {
    let (library, config) = (player_library(), ConfigDir::new());
    // The prefixed tenant first: tenants match in order, and the open one matches anything.
    let tenants = [
        Tenant::new("alice", library.music_dir()).path_prefix("/alice").token(TOKEN),
        Tenant::new("open", library.music_dir()),
    ];
    let server = TestServer::start_config(&config.config("tapedeck.toml", false, &tenants));
    let base = format!("http://{}", server.addr());

    let screenshot = (std::env::var(UPDATE_SCREENSHOT).as_deref() == Ok("1"))
        .then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/player.png"));
    run_player(&format!("{base}/"), screenshot.as_deref());
    run_player(&format!("{base}/alice/?token={TOKEN}"), None);
}
