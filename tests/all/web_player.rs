//! The web player in a real browser: `tests/browser/player.mjs` drives Debian's Chromium
//! against the real server, once at the root with no token and once as a tenant under a
//! path prefix with a token. It needs `node`, `/usr/bin/chromium` and playwright-core
//! (installed into `tests/browser/node_modules` here when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::support::config::{ConfigDir, Tenant};
use crate::support::tagged::{Encoding, FRONT, Song, TagKind, make, picture};
use crate::support::{Library, TestServer, run};

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

/// `tests/browser`, with its dependencies installed.
fn browser_tests() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        run(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(&dir));
    }
    dir
}

/// Runs the player script at `url`; fails with everything it printed if it fails.
#[track_caller]
fn run_player(dir: &Path, url: &str, screenshot: Option<&Path>) {
    let expect = json!({"folder": "Album", "track": "First Song", "wvFolder": "Lossless", "wv": "WavPack Tone"});
    let mut node = Command::new("node");
    node.arg("player.mjs").args(["--url", url, "--expect", &expect.to_string()]).current_dir(dir);
    if let Some(path) = screenshot {
        node.arg("--screenshot").arg(path);
    }
    let output =
        node.output().unwrap_or_else(|e| panic!("cannot run node (is it installed?): {e}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "player.mjs at {url} failed ({}):\n{printed}", output.status);
}

#[test]
fn web_player_plays_browses_and_seeks_in_chromium_at_the_root_and_under_a_tenant() {
    let dir = browser_tests();
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
    run_player(&dir, &format!("{base}/"), screenshot.as_deref());
    run_player(&dir, &format!("{base}/alice/?token={TOKEN}"), None);
}
