//! Swapping the guest without a restart: on `POST /admin/reload` or SIGHUP, under load,
//! with a stream in flight, no request fails and every new one gets the new guest; a guest or
//! config that is broken is refused and the running one keeps serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::config::{ConfigDir, Tenant, config_toml_at};
use crate::support::connection::{KeepAlive, OpenStream};
use crate::support::guest::{GUEST_HEADER, GUEST_WASM, HOSTILE_GUEST};
use crate::support::http::{self, Response};
use crate::support::{Launch, Library, TestServer, assert_body, assert_same_bytes};

/// How a reload is asked for.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Admin,
    Hangup,
}

/// Which guest answered a request, or why the request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Real,
    Hostile,
    Failed(String),
}

/// One request of the load: when it started and ended, and who answered.
struct Sample {
    started: Instant,
    ended: Instant,
    answer: Answer,
}

/// What a response is: the real guest's bytes of `expected`, the hostile guest's JSON with
/// its header, or a failure.
fn classify(result: Result<Response, String>, expected: &[u8]) -> Answer {
    let response = match result {
        Ok(response) => response,
        Err(error) => return Answer::Failed(error),
    };
    match (response.status, response.header(GUEST_HEADER).as_deref()) {
        (200, None) if response.body == expected => Answer::Real,
        (200, Some("hostile")) if response.body == br#"{"guest":"hostile"}"# => Answer::Hostile,
        _ => Answer::Failed(response.summary()),
    }
}

/// A server on the flags with `--guest <a copy of the real guest>` and an admin listener.
fn swappable(library: Library, dir: &ConfigDir) -> (TestServer, PathBuf) {
    let guest = dir.write("guest.wasm", std::fs::read(GUEST_WASM).expect("real guest"));
    let server = Launch::library(library)
        .arg("--guest")
        .arg(&guest)
        .args(["--admin-listen", "127.0.0.1:0"])
        .start();
    (server, guest)
}

/// Lines of `server`'s log that say a reload happened.
fn reloaded(line: &str) -> bool {
    line.trim_end().ends_with(": reloaded")
}

fn swap_under_load(trigger: Trigger) {
    let (library, dir) = (Library::empty(), ConfigDir::new());
    library.add("song.mp3", &tagged("song", 32 * 1024));
    // Far more than the socket buffers hold: the server is still sending it at the swap.
    let big_len = 32 << 20;
    library.add_sparse_file("big.mp3", big_len, &[(0, b"ID3 big"), (big_len - 8, b"big end.")]);
    let (server, _) = swappable(library, &dir);
    let (addr, expected) = (server.addr(), server.library().read("song.mp3"));

    // Three clients on fresh connections and one on a kept-alive connection.
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<JoinHandle<Vec<Sample>>> = (0..4)
        .map(|client| {
            let (stop, expected) = (Arc::clone(&stop), expected.clone());
            std::thread::spawn(move || {
                let mut kept = (client == 0).then(|| KeepAlive::connect(addr));
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let result = match &mut kept {
                        Some(connection) => connection.get("/stream/song.mp3"),
                        None => http::try_request(
                            addr,
                            &addr.to_string(),
                            "GET",
                            "/stream/song.mp3",
                            &[],
                            None,
                        ),
                    };
                    let answer = classify(result, &expected);
                    samples.push(Sample { started, ended: Instant::now(), answer });
                }
                samples
            })
        })
        .collect();

    // A long response in flight across the swap must finish on the old guest.
    let mut in_flight = OpenStream::open(addr, "/stream/big.mp3", &[("Connection", "close")]);
    assert_eq!(in_flight.head.status, 200, "{}", in_flight.head.summary());
    let mut big = in_flight.read(64 * 1024);
    std::thread::sleep(Duration::from_millis(400));

    dir.replace("guest.wasm", std::fs::read(HOSTILE_GUEST).expect("hostile guest"));
    let asked = Instant::now();
    match trigger {
        Trigger::Admin => {
            let response = server.admin("POST", "/admin/reload");
            assert_eq!(response.status, 200, "POST /admin/reload: {}", response.summary());
            assert_eq!(response.json(), serde_json::json!({"reloaded": true}));
        }
        Trigger::Hangup => {
            server.signal("HUP");
            assert!(
                server.wait_for_log(1, Duration::from_secs(20), reloaded),
                "no `reloaded` line 20 s after SIGHUP"
            );
        }
    }
    let swapped = Instant::now();
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    let per_client: Vec<Vec<Sample>> =
        clients.into_iter().map(|c| c.join().expect("load client panicked")).collect();
    assert_eq!(in_flight.head.header(GUEST_HEADER), None, "the stream in flight across the swap");
    big.extend(in_flight.rest());
    assert_same_bytes(
        &big,
        &server.library().read("big.mp3"),
        "a stream in flight across the swap",
    );

    let samples: Vec<&Sample> = per_client.iter().flatten().collect();
    let failed: Vec<&Answer> =
        samples.iter().map(|s| &s.answer).filter(|a| matches!(a, Answer::Failed(_))).collect();
    let during = samples.iter().filter(|s| s.ended >= asked && s.started <= swapped).count();
    let hostile = samples.iter().filter(|s| s.answer == Answer::Hostile).count();
    let report = format!(
        "swap by {trigger:?} under load: {} requests in all, {during} during the swap \
         ({:?} from asking to done), {} failed, {hostile} answered by the new guest",
        samples.len(),
        swapped - asked,
        failed.len()
    );
    eprintln!("{report}");
    assert!(failed.is_empty(), "{report}: {:?}", &failed[..failed.len().min(5)]);
    let late_old: Vec<_> = samples
        .iter()
        .filter(|s| s.started > swapped && s.answer != Answer::Hostile)
        .map(|s| (s.started - swapped, &s.answer))
        .collect();
    assert!(
        late_old.is_empty(),
        "{report}: started after the swap, not the new guest: {late_old:?}"
    );
    let early_new = samples.iter().filter(|s| s.ended < asked && s.answer != Answer::Real).count();
    assert_eq!(early_new, 0, "{report}: the new guest answered before the reload was asked for");
    assert!(
        samples.iter().any(|s| s.ended < asked) && hostile > 0,
        "{report}: the load did not span the swap"
    );
    let kept_alive = &per_client[0];
    assert!(
        kept_alive.first().is_some_and(|s| s.answer == Answer::Real)
            && kept_alive.last().is_some_and(|s| s.answer == Answer::Hostile),
        "{report}: the kept-alive connection did not move to the new guest"
    );
}

#[test]
fn guest_swapped_by_admin_reload_under_load_fails_no_request() {
    swap_under_load(Trigger::Admin);
}

#[test]
fn guest_swapped_by_sighup_under_load_fails_no_request() {
    swap_under_load(Trigger::Hangup);
}

/// A component with no imports and no exports: it compiles, but it is no proxy.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
/// A core module with nothing in it: valid wasm, but not a component.
const EMPTY_CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";

#[test]
fn broken_guest_is_refused_on_reload_and_the_running_guest_keeps_serving() {
    let (library, dir) = (Library::empty(), ConfigDir::new());
    library.add("song.mp3", &tagged("song", 8 * 1024));
    let (server, _) = swappable(library, &dir);
    let song = server.library().read("song.mp3");
    let real = std::fs::read(GUEST_WASM).expect("real guest");
    let broken: &[(&str, Vec<u8>)] = &[
        ("garbage", b"this is not wasm at all".to_vec()),
        ("a truncated component", real[..real.len() / 2].to_vec()),
        ("a core module", EMPTY_CORE_MODULE.to_vec()),
        ("a component that exports no handler", EMPTY_COMPONENT.to_vec()),
    ];
    let refused = |line: &str| line.contains("reload refused");
    for (round, (what, bytes)) in broken.iter().enumerate() {
        dir.replace("guest.wasm", bytes);
        let response = server.admin("POST", "/admin/reload");
        assert_eq!(response.status, 422, "reloading {what}: {}", response.summary());
        let message = response.expect_json_error();
        assert!(!message.is_empty(), "reloading {what}: no reason given");
        assert!(
            server.wait_for_log(round + 1, Duration::from_secs(5), refused),
            "reloading {what}: no `reload refused` line"
        );
        let after = server.get("/stream/song.mp3", &[]);
        assert_body(&after, &song, &format!("after refusing {what}"));
        assert_eq!(after.header(GUEST_HEADER), None, "after refusing {what}");
    }
    // SIGHUP refuses the same way.
    server.signal("HUP");
    assert!(
        server.wait_for_log(broken.len() + 1, Duration::from_secs(5), refused),
        "SIGHUP with a broken guest: no `reload refused` line"
    );
    assert_body(&server.get("/stream/song.mp3", &[]), &song, "after SIGHUP with a broken guest");
    // The refusals were about the guests: a good one is taken.
    dir.replace("guest.wasm", std::fs::read(HOSTILE_GUEST).expect("hostile guest"));
    assert_eq!(server.admin("POST", "/admin/reload").status, 200, "reloading a good guest");
    let swapped = server.get("/stream/song.mp3", &[]);
    assert_eq!(swapped.header(GUEST_HEADER).as_deref(), Some("hostile"), "{}", swapped.summary());
}

#[test]
fn reloaded_config_is_refused_when_invalid_and_taken_when_valid() {
    let (first, second, dir) = (Library::empty(), Library::empty(), ConfigDir::new());
    first.add("song.mp3", &tagged("first library", 4000));
    second.add("song.mp3", &tagged("second library", 5000));
    let path = dir.config("tapedeck.toml", true, &[Tenant::new("t", first.music_dir())]);
    let server = TestServer::start_config(&path);
    let (listen, admin) = (server.addr().to_string(), server.admin_addr().to_string());
    let rewrite = |extra: &str, tenant: Tenant| {
        dir.replace("tapedeck.toml", config_toml_at(&listen, Some(&admin), extra, &[tenant]));
    };
    let cases = [
        ("bogus = 1", Tenant::new("t", second.music_dir()), "bogus"),
        ("", Tenant::new("t", &second.root().join("missing")), "`tenant.t.music_dir`"),
        ("", Tenant::new("t", second.music_dir()).path_prefix("t/"), "`tenant.t.path_prefix`"),
    ];
    for (extra, tenant, field) in cases {
        rewrite(extra, tenant);
        let response = server.admin("POST", "/admin/reload");
        assert_eq!(
            response.status,
            422,
            "reloading a config with a bad {field}: {}",
            response.summary()
        );
        let message = response.expect_json_error();
        assert!(message.contains(field), "the refusal `{message}` does not name {field}");
        assert_body(
            &server.get("/stream/song.mp3", &[]),
            &first.read("song.mp3"),
            "after a refused reload",
        );
    }
    rewrite("", Tenant::new("t", second.music_dir()));
    let response = server.admin("POST", "/admin/reload");
    assert_eq!(response.status, 200, "reloading a valid config: {}", response.summary());
    assert_body(&server.get("/stream/song.mp3", &[]), &second.read("song.mp3"), "after the reload");
}
