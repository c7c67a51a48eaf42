//! A config the server cannot honour stops it at once, before it listens, with a message
//! that names the field; the flags are checked the same way.

use std::time::Duration;

use crate::support::config::{ConfigDir, Tenant, config_toml};
use crate::support::{Launch, Library};

#[test]
fn invalid_config_stops_the_server_at_once_with_a_message_naming_the_field() {
    let (library, dir) = (Library::empty(), ConfigDir::new());
    let music = library.music_dir();
    let alice = || Tenant::new("alice", music);
    let not_wasm = dir.write("not-a-guest.wasm", "not wasm");
    let file = library.add("file.mp3", b"ID3");
    // (what is wrong, the config, what the message must name)
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown top-level field",
            config_toml(false, "lisen = \"127.0.0.1:0\"\n", &[alice()]),
            "lisen",
        ),
        (
            "unknown tenant field",
            config_toml(false, "", &[alice()]).replace("music_dir", "music_dri"),
            "music_dri",
        ),
        ("unknown limit", config_toml(false, "", &[alice().limit("memory_mb", 8)]), "memory_mb"),
        (
            "limit of the wrong type",
            config_toml(false, "", &[alice()]) + "[tenant.limits]\nmax_requests = \"many\"\n",
            "max_requests",
        ),
        (
            "zero limit",
            config_toml(false, "", &[alice().limit("max_requests", 0)]),
            "`tenant.alice.limits.max_requests`",
        ),
        (
            "a bitrate cap below any encoder's",
            config_toml(false, "", &[alice().limit("max_bitrate", 8)]),
            "`tenant.alice.limits.max_bitrate`",
        ),
        (
            "missing music dir",
            config_toml(false, "", &[Tenant::new("alice", &music.join("nope"))]),
            "`tenant.alice.music_dir`",
        ),
        (
            "music dir is a file",
            config_toml(false, "", &[Tenant::new("alice", &file)]),
            "`tenant.alice.music_dir`",
        ),
        (
            "duplicate tenant name",
            config_toml(false, "", &[alice().hosts(&["a.test"]), alice()]),
            "`tenant[1].name`",
        ),
        (
            "path prefix without a slash",
            config_toml(false, "", &[alice().path_prefix("alice")]),
            "`tenant.alice.path_prefix`",
        ),
        (
            "path prefix ending in a slash",
            config_toml(false, "", &[alice().path_prefix("/alice/")]),
            "`tenant.alice.path_prefix`",
        ),
        (
            "path prefix `/`",
            config_toml(false, "", &[alice().path_prefix("/")]),
            "`tenant.alice.path_prefix`",
        ),
        (
            "missing guest",
            config_toml(false, "", &[alice().guest(&dir.path().join("nope.wasm"))]),
            "`tenant.alice.guest`",
        ),
        ("empty token", config_toml(false, "", &[alice().token("")]), "`tenant.alice.token`"),
        ("no tenant", config_toml(false, "", &[]), "missing field `tenant`"),
        (
            "guest that is not wasm",
            config_toml(false, "", &[alice().guest(&not_wasm)]),
            "tenant `alice`",
        ),
    ];
    for (what, toml, field) in &cases {
        let path = dir.write("bad.toml", toml);
        let refusal = Launch::config(&path).expect_refusal(Duration::from_secs(20));
        let context = format!(
            "{what}: exit {}, after {:?}, stderr:\n{}",
            refusal.status, refusal.elapsed, refusal.stderr
        );
        assert!(!refusal.status.success(), "{context}");
        assert!(refusal.stderr.contains(field), "the message does not name {field}: {context}");
        assert!(!refusal.stderr.contains("listening on"), "{context}");
        assert!(refusal.elapsed < Duration::from_secs(5), "not at once: {context}");
    }
    // The flags are checked the same way.
    let refusal = Launch::music_dir(&music.join("nope")).expect_refusal(Duration::from_secs(20));
    assert!(!refusal.status.success(), "a missing --music-dir: {refusal:?}");
    assert!(refusal.stderr.contains("music_dir"), "a missing --music-dir: {refusal:?}");
}
