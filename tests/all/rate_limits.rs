//! Bandwidth limits per tenant, measured by a real client's throughput: `limit_rate` after
//! `limit_rate_after` bytes for every response, and `transcode_pace` for transcodes (times
//! real time after the first seconds). Both are off by default.

use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::config::{ConfigDir, Tenant, config_toml};
use crate::support::media::transcode_media;
use crate::support::{Library, TestServer, assert_same_bytes};

const MIB: u64 = 1 << 20;

/// Serves `library` as one tenant whose `[tenant.limits]` table is `limits`.
fn server(library: &Library, limits: &str) -> (TestServer, ConfigDir) {
    let dir = ConfigDir::new();
    let tenant = Tenant::new("t", library.music_dir());
    let config = format!("{}[tenant.limits]\n{limits}", config_toml(false, "", &[tenant]));
    let server = TestServer::start_config(&dir.write("t.toml", config));
    (server, dir)
}

/// GETs `target` and returns the body and how long it took.
fn timed_get(server: &TestServer, target: &str, headers: &[(&str, &str)]) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let response = server.get(target, headers);
    assert!(matches!(response.status, 200 | 206), "{target}: {}", response.summary());
    (response.body, started.elapsed())
}

#[test]
fn limit_rate_paces_a_response_after_its_first_bytes_and_is_off_by_default() {
    let library = Library::empty();
    let file = tagged("paced", 2 * MIB as usize);
    library.add("paced.mp3", &file);
    let limits = format!("limit_rate = {}\nlimit_rate_after = {}\n", MIB / 2, MIB / 2);
    let (limited, _dir) = server(&library, &limits);
    let (body, took) = timed_get(&limited, "/stream/paced.mp3", &[]);
    assert_eq!(body, file, "the paced body");
    // 1.5 MiB past the first 0.5 MiB at 0.5 MiB/s: three seconds.
    let rate = 1.5 * MIB as f64 / took.as_secs_f64();
    assert!(took >= Duration::from_millis(2500), "paced at {rate:.0} B/s: {took:?}");
    assert!(took < Duration::from_secs(8), "far slower than the limit: {took:?}");

    let (free, _free_dir) = server(&library, "");
    let (body, took) = timed_get(&free, "/stream/paced.mp3", &[]);
    assert_eq!(body, file);
    assert!(took < Duration::from_secs(1), "without a limit it took {took:?}");
}

#[test]
fn transcode_pace_holds_a_transcode_to_a_multiple_of_real_time_after_its_first_seconds() {
    let library = Library::empty();
    // 22.05 kHz mono 16-bit: 44,100 bytes of WAV a second.
    library.add("long.wv", &transcode_media("long.wv"));
    let range = [("Range", "bytes=0-749999")];
    let (paced, _dir) = server(&library, "transcode_pace = 4.0\ntranscode_pace_after_secs = 1\n");
    let (body, took) = timed_get(&paced, "/stream/wav/long.wv", &range);
    assert_eq!(body.len(), 750_000);
    // 44,100 bytes free, then 705,900 at 176,400 bytes a second: four seconds.
    assert!(took >= Duration::from_millis(3300), "paced transcode took {took:?}");
    assert!(took < Duration::from_secs(10), "far slower than the pace: {took:?}");

    let (free, _free_dir) = server(&library, "");
    let (free_body, free_took) = timed_get(&free, "/stream/wav/long.wv", &range);
    assert_same_bytes(&free_body, &body, "the same bytes, paced or not");
    assert!(free_took < Duration::from_secs(2), "without pacing it took {free_took:?}");
}
