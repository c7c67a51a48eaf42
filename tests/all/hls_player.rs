//! HLS in a real browser: `tests/browser/hls.mjs` plays `/hls/<path>/index.m3u8` through
//! hls.js in Debian's Chromium against the real server: a 40 s FLAC (three AAC renditions and
//! the FLAC one) at the root with no token, and a 40 s MP3 (three AAC renditions) as a tenant
//! under a path prefix with a token. The script checks the variants, the duration (of the
//! source as ffprobe decodes it), playback, switches from the lowest rendition to the highest,
//! seeks to 50 % and 90 % that fetch the segment holding the target, playing to the end, and
//! that nothing errs. It needs `node`, `/usr/bin/chromium`, playwright-core and hls.js
//! (installed into `tests/browser/node_modules` here when missing).

use std::path::Path;
use std::process::Command;

use crate::support::config::{ConfigDir, Tenant};
use crate::support::http::pct_path;
use crate::support::tagged::{Encoding, untagged};
use crate::support::{Library, TestServer, browser, run};

const TOKEN: &str = "hls-s3cret";
const FLAC: &str = "Lossless/01 - tone café.flac";
const MP3: &str = "Lossy/02 - tone.mp3";

/// 40 s: seven segments of about 6 s, so 50 % and 90 % fall in different ones, none of
/// them the first or the last; short enough to play from 90 % to the end.
const fn tone(ext: &'static str, args: &'static [&'static str]) -> Encoding {
    Encoding { ext, args, rate: 44_100, channels: 2, seconds: 40.0 }
}

/// The duration of the file at `path` as ffprobe decodes it: its decoded samples over its
/// rate. An MP3's container duration counts LAME's priming and padding (40.046 s for this
/// 40 s tone); the decoder drops them, as gapless players and the server do.
fn duration(path: &Path) -> f64 {
    let ffprobe = |entries: &str| {
        let out = run(Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a:0", "-show_entries", entries])
            .args(["-of", "csv=p=0"])
            .arg(path));
        String::from_utf8_lossy(&out).into_owned()
    };
    let number = |text: &str| -> f64 {
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("ffprobe of {}: {text:?}: {e}", path.display()))
    };
    let rate = number(&ffprobe("stream=sample_rate"));
    let samples: f64 = ffprobe("frame=nb_samples").lines().map(number).sum();
    assert!(samples > 0.0 && rate > 0.0, "ffprobe decodes nothing of {}", path.display());
    samples / rate
}

/// Runs the HLS script on the multivariant playlist at `url`; fails with everything it
/// printed if it fails.
#[track_caller]
fn run_hls(url: &str, seconds: f64, variants: usize) {
    let printed =
        browser::run_script("hls.mjs", &[url, &format!("{seconds:.6}"), &variants.to_string()]);
    eprintln!("hls.mjs at {url}:\n{printed}");
}

#[test]
fn hls_plays_switches_and_seeks_in_chromium_at_the_root_and_under_a_tenant() {
    let (library, config) = (Library::empty(), ConfigDir::new());
    let flac = library.add(FLAC, &untagged(&tone("flac", &["-c:a", "flac"])));
    let mp3 = library.add(MP3, &untagged(&tone("mp3", &["-c:a", "libmp3lame", "-b:a", "128k"])));
    // The prefixed tenant first: tenants match in order, and the open one matches anything.
    let tenants = [
        Tenant::new("alice", library.music_dir()).path_prefix("/alice").token(TOKEN),
        Tenant::new("open", library.music_dir()),
    ];
    let server = TestServer::start_config(&config.config("tapedeck.toml", false, &tenants));
    let base = format!("http://{}", server.addr());

    // A lossless source: aac-64, aac-128, aac-256 and flac.
    run_hls(&format!("{base}/hls/{}/index.m3u8", pct_path(FLAC)), duration(&flac), 4);
    // A lossy one, through the tenant's prefix, its token on every request: the AAC three.
    run_hls(
        &format!("{base}/alice/hls/{}/index.m3u8?token={TOKEN}", pct_path(MP3)),
        duration(&mp3),
        3,
    );
    server.assert_alive();
}
