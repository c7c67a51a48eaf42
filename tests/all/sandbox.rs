//! The sandbox, proven with a hostile guest (`tests/guests/hostile`) that tries to read files
//! outside MUSIC_DIR, the host's environment and the network, and reports what it got; and a
//! guest that traps, spins or allocates costs its own request only.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::guest::{
    CONTROL_BYTES, CONTROL_FILE, HOSTILE_GUEST, MEMORY_CEILING, add_control_file,
    assert_controls_read,
};
use crate::support::http::{self, pct_segment};
use crate::support::library::{SECRET_MARKER, SIBLING_SECRET};
use crate::support::{Library, TestServer, assert_same_bytes};

/// A hostile server on a music dir with a control file, a secret next to it, one outside it,
/// and symlinks (`outside-link`, `outside-link.mp3`) to the outside one.
fn hostile_server() -> TestServer {
    let library = Library::empty();
    add_control_file(&library);
    library.add_symlink("outside-link", &library.root().join("outside/secret.mp3"));
    TestServer::start_with_guest(library, Path::new(HOSTILE_GUEST))
}

/// GETs `target` from the hostile guest: a 200 whose JSON report must not contain anything of
/// the host: its paths, its environment, or a secret.
#[track_caller]
fn report(server: &TestServer, target: &str) -> Value {
    let response = server.get(target, &[]);
    assert_eq!(response.status, 200, "{target}: {}", response.summary());
    let text = response.text();
    assert!(!text.contains(SECRET_MARKER), "{target}: the guest read a secret: {text}");
    assert!(
        !text.contains("host-environment-leaked"),
        "{target}: the guest saw the host's env: {text}"
    );
    response.json()
}

/// Asserts no string in `json` (keys aside: they echo the paths tried) names the host's
/// temporary directory or the working directory the server inherited.
#[track_caller]
fn assert_no_host_path(server: &TestServer, json: &Value) {
    let root = server.library().root().to_string_lossy().into_owned();
    let cwd = std::env::current_dir().expect("the tests' working directory");
    let cwd = cwd.to_string_lossy().into_owned();
    let mut stack = vec![json];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(s) => assert!(
                !s.contains(&root) && !s.contains(&cwd),
                "the guest learned a host path: {s}"
            ),
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.values()),
            _ => {}
        }
    }
}

/// The members of a JSON object of outcomes that were not refused (`"err:..."`), a value
/// that is not a string included. Listing the music dir itself (a path that resolved to the
/// preopen) is not counted: it is inside.
fn not_refused(outcomes: &Value, music_listing: Option<&str>) -> Vec<String> {
    outcomes
        .as_object()
        .expect("an object of outcomes")
        .iter()
        .filter(|(_, v)| match v.as_str() {
            Some(outcome) => !outcome.starts_with("err:") && Some(outcome) != music_listing,
            None => true,
        })
        .map(|(k, v)| format!("{k} => {v}"))
        .collect()
}

/// The names in the music dir, sorted.
fn music_entries(server: &TestServer) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(server.library().music_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn guest_cannot_read_files_outside_the_music_dir() {
    let server = hostile_server();
    let root = server.library().root().to_owned();
    let tries = [
        SIBLING_SECRET.to_owned(),
        root.join("outside/secret.mp3").to_string_lossy().into_owned(),
        root.join("music-sibling/secret.mp3").to_string_lossy().into_owned(),
        format!("../../{}", root.join("outside/secret.mp3").to_string_lossy()),
    ];
    let query: Vec<String> = tries.iter().map(|t| format!("try={}", pct_segment(t))).collect();
    let json = report(&server, &format!("/escape/files?{}", query.join("&")));

    assert_no_host_path(&server, &json);
    let music_listing = format!("ok:dir:{}", music_entries(&server).join("|"));
    let escaped = not_refused(&json["attempts"], Some(&music_listing));
    assert!(escaped.is_empty(), "the guest got outside MUSIC_DIR:\n{}", escaped.join("\n"));
    assert!(json["attempts"].as_object().unwrap().len() > 20, "too few attempts reported: {json}");

    assert_controls_read(&json);
}

#[test]
fn guest_sees_exactly_one_preopen_and_it_is_the_music_dir() {
    let server = hostile_server();
    let json = report(&server, "/escape/files");
    let preopens = json["preopens"].as_array().expect("preopens");
    assert_eq!(
        preopens.len(),
        1,
        "the guest must see the music dir and nothing else: {preopens:?}"
    );
    let expected = music_entries(&server);
    let listed: Vec<&str> = preopens[0]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(listed, expected, "the preopen's entries are not the music dir's");
}

#[test]
fn guest_cannot_change_the_music_dir() {
    let server = hostile_server();
    let before = music_entries(&server);
    let json = report(&server, "/escape/write");
    let attempts = json["attempts"].as_object().expect("attempts");
    assert!(attempts.len() >= 8, "too few attempts reported: {json}");
    let changed = not_refused(&json["attempts"], None);
    assert!(changed.is_empty(), "the guest changed the music dir:\n{}", changed.join("\n"));
    assert_eq!(music_entries(&server), before, "the music dir's entries");
    assert_same_bytes(&server.library().read(CONTROL_FILE), CONTROL_BYTES, CONTROL_FILE);
}

#[test]
fn guest_gets_no_environment_arguments_or_host_cwd() {
    let server = hostile_server();
    let json = report(&server, "/escape/env");
    assert_no_host_path(&server, &json);
    for key in ["std_vars", "std_args", "environment", "arguments"] {
        let values = json[key].as_array().unwrap_or_else(|| panic!("no `{key}` in {json}"));
        assert!(values.is_empty(), "the guest got {key}: {values:?}");
    }
    // A working directory is harmless as long as it names no host directory: none, or the
    // root of the guest's own filesystem.
    let cwd = &json["initial_cwd"];
    assert!(
        cwd.is_null() || cwd.as_str().is_some_and(|cwd| ["/", "."].contains(&cwd)),
        "the guest's working directory: {json}"
    );
}

#[test]
fn guest_cannot_open_sockets_connect_or_resolve_names() {
    let server = hostile_server();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let target = format!(
        "/escape/network?port={}&udp={}",
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port()
    );
    let json = report(&server, &target);
    for key in ["tcp_wasi", "tcp_std", "udp_bind_wasi", "udp_std", "dns_wasi", "dns_std"] {
        assert!(json.get(key).is_some(), "the guest did not report `{key}`: {json}");
    }
    let reached = not_refused(&json, None);
    assert!(reached.is_empty(), "the guest reached the network:\n{}", reached.join("\n"));

    // Whatever the guest believes, nothing may have arrived.
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        assert!(tcp.accept().is_err(), "the guest's TCP connection reached the test's listener");
        assert!(udp.recv_from(&mut [0; 64]).is_err(), "the guest's UDP datagram reached the test");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_request_gets_an_instance_no_request_has_used() {
    let server = hostile_server();
    let addr = server.addr();
    // Sequential requests (each may get the instance made ahead while the server
    // was idle), then concurrent ones.
    let mut counts: Vec<u64> =
        (0..20).map(|_| server.get("/count", &[]).json()["handled"].as_u64().unwrap()).collect();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let response = http::request(addr, "GET", "/count", &[], None);
                response.json()["handled"].as_u64().unwrap()
            })
        })
        .collect();
    counts.extend(threads.into_iter().map(|thread| thread.join().expect("request thread")));
    assert!(counts.iter().all(|&count| count == 1), "requests each instance handled: {counts:?}");
}

#[test]
fn trapping_guest_gets_500_json_and_the_server_keeps_serving() {
    let server = hostile_server();
    for _ in 0..3 {
        let response = server.get("/trap", &[]);
        assert_eq!(response.status, 500, "{}", response.summary());
        response.expect_json_error();
        let next = server.get("/hello", &[]);
        assert_eq!(next.status, 200, "the request after a trap: {}", next.summary());
        assert_eq!(next.json()["guest"], "hostile");
    }
}

#[test]
fn spinning_guest_is_stopped_and_does_not_block_other_requests() {
    let server = hostile_server();
    let addr = server.addr();
    let started = Instant::now();
    let spin = std::thread::spawn(move || http::request(addr, "GET", "/spin", &[], None));
    std::thread::sleep(Duration::from_millis(100));
    // Meanwhile the server answers others.
    let other = server.get("/hello", &[]);
    assert_eq!(other.status, 200, "while a guest spins: {}", other.summary());
    let response = spin.join().expect("spin request");
    // A limit the tenant set, not a fault: 503, with the limit named.
    assert_eq!(response.status, 503, "a spinning guest: {}", response.summary());
    assert!(response.expect_json_error().contains("CPU"), "{}", response.summary());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the spin was stopped only after {:?}",
        started.elapsed()
    );
    server.assert_alive();
}

#[test]
fn allocating_guest_hits_its_memory_limit_and_the_server_keeps_serving() {
    let server = hostile_server();
    // 64 MiB at a time, then 1 MiB at a time: the guest fills what it is allowed and
    // touches every byte; without a limit it would reach wasm32's 4 GiB.
    for target in ["/alloc", "/alloc?chunk_mib=1"] {
        let response = server.get(target, &[]);
        assert_eq!(response.status, 503, "{target}: {}", response.summary());
        assert!(
            response.expect_json_error().contains("memory"),
            "{target}: {}",
            response.summary()
        );
        let peak = server.peak_rss();
        assert!(peak < MEMORY_CEILING, "{target}: the host grew to {} MiB", peak >> 20);
        let next = server.get("/hello", &[]);
        assert_eq!(next.status, 200, "the request after {target}: {}", next.summary());
    }
}
