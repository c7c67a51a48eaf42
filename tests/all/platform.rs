//! The host platform (issue 6): tenants from a config file, reached by Host header or path
//! prefix, each seeing only its own music dir and guarded by its token; a hostile tenant
//! beside a well-behaved one; the per-tenant request cap; swapping the guest under load;
//! broken guests and configs refused; metrics after known traffic; SIGTERM with a stream in
//! flight; validators identical across replicas.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::support::config::{ConfigDir, Tenant, config_toml};
use crate::support::http::{self, KeepAlive, OpenStream, Response, pct_segment};
use crate::support::library::{Format, SECRET_MARKER, encoded, pattern};
use crate::support::{Launch, Library, TestServer, assert_same_bytes, median_and_max};

/// The real guest component, as the build embeds it.
const GUEST_WASM: &str = env!("TAPEDECK_GUEST_WASM");
/// The hostile guest component (`tests/guests/hostile`).
const HOSTILE_GUEST: &str = env!("TAPEDECK_HOSTILE_GUEST");
/// The header the hostile guest puts on every response.
const GUEST_HEADER: &str = "x-tapedeck-guest";

/// Request headers, or metric labels: `(name, value)` pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];
/// What a request must get: the body of a 200, or the status of a JSON error.
type Outcome<'a> = Result<&'a [u8], u16>;
/// A metric's expected value: the series, its labels, the value.
type Expected<'a> = (&'a str, Pairs<'a>, f64);

/// `bytes` with a readable tag in front, so a body from the wrong tenant names itself.
fn tagged(tag: &str, len: usize) -> Vec<u8> {
    let mut bytes = format!("ID3 {tag} ").into_bytes();
    bytes.extend(pattern(len));
    bytes
}

/// Asserts a 200 whose body is exactly `expected`.
#[track_caller]
fn assert_body(response: &Response, expected: &[u8], what: &str) {
    assert_eq!(response.status, 200, "{what}: {}", response.summary());
    assert_same_bytes(&response.body, expected, what);
}

// ---------------------------------------------------------------------------------------
// Tenants: routing, their own files, tokens
// ---------------------------------------------------------------------------------------

const TOKEN: &str = "s3cret-token";

/// Alice and Bob: the same file names with different bytes, and a file only each has. Bob
/// has a token. Each is reached by a Host (`alice.test`, `bob.test`) and by a path prefix
/// (`/alice`, `/bob`). The config lives in Alice's folder and names her music dir relatively.
struct TwoTenants {
    server: TestServer,
    alice: Library,
    bob: Library,
}

impl TwoTenants {
    fn start() -> TwoTenants {
        let (alice, bob) = (Library::empty(), Library::empty());
        for (library, name) in [(&alice, "alice"), (&bob, "bob")] {
            library.add("song.mp3", &tagged(&format!("{name}'s song"), 20_000));
            library.add(&format!("only-{name}.mp3"), &tagged(&format!("only {name}"), 1000));
        }
        let alice_dir = Path::new("music");
        let tenants = [
            Tenant::new("alice-host", alice_dir).hosts(&["alice.test"]),
            Tenant::new("bob-host", bob.music_dir()).hosts(&["bob.test"]).token(TOKEN),
            Tenant::new("alice-path", alice_dir).path_prefix("/alice"),
            Tenant::new("bob-path", bob.music_dir()).path_prefix("/bob").token(TOKEN),
        ];
        let config = alice.root().join("tapedeck.toml");
        std::fs::write(&config, config_toml(false, "", &tenants)).expect("write config");
        TwoTenants { server: TestServer::start_config(&config), alice, bob }
    }
}

#[test]
fn tenants_reached_by_host_or_path_prefix_see_only_their_own_music_dir() {
    let TwoTenants { server, alice, bob } = TwoTenants::start();
    let bearer = format!("Bearer {TOKEN}");
    let auth: Pairs = &[("Authorization", &bearer)];
    let local = server.addr().to_string();
    let (alice_song, bob_song) = (alice.read("song.mp3"), bob.read("song.mp3"));
    // (Host, target, headers, the body of a 200 or the status of an error)
    let cases: &[(&str, &str, Pairs, Outcome)] = &[
        ("alice.test", "/stream/song.mp3", &[], Ok(&alice_song)),
        // The port and the case of a Host do not matter.
        ("ALICE.test:8080", "/stream/song.mp3", &[], Ok(&alice_song)),
        ("alice.test", "/stream/only-alice.mp3", &[], Ok(&alice.read("only-alice.mp3"))),
        ("alice.test", "/stream/only-bob.mp3", &[], Err(404)),
        ("bob.test", "/stream/song.mp3", auth, Ok(&bob_song)),
        ("bob.test", "/stream/only-alice.mp3", auth, Err(404)),
        (&local, "/alice/stream/song.mp3", &[], Ok(&alice_song)),
        (&local, "/alice/stream/only-bob.mp3", &[], Err(404)),
        (&local, "/bob/stream/song.mp3", auth, Ok(&bob_song)),
        (&local, "/bob/stream/only-bob.mp3", auth, Ok(&bob.read("only-bob.mp3"))),
        (&local, "/bob/stream/only-alice.mp3", auth, Err(404)),
        // No tenant: no Host tenant matches and no prefix either.
        (&local, "/stream/song.mp3", &[], Err(404)),
        ("carol.test", "/stream/song.mp3", &[], Err(404)),
        (&local, "/alicebob/stream/song.mp3", &[], Err(404)),
        (&local, "/carol/stream/song.mp3", &[], Err(404)),
    ];
    for (host, target, headers, expected) in cases {
        let what = format!("Host: {host}, GET {target}");
        let response = server.get_from(host, target, headers);
        match expected {
            Ok(body) => assert_body(&response, body, &what),
            Err(status) => {
                assert_eq!(response.status, *status, "{what}: {}", response.summary());
                response.expect_json_error();
            }
        }
    }
}

#[test]
fn tenant_token_is_required_as_bearer_or_query_and_a_wrong_one_gets_401_json() {
    let TwoTenants { server, alice, bob } = TwoTenants::start();
    let bob_song = bob.read("song.mp3");
    let wrong = format!("Bearer {TOKEN}x");
    let short = format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]);
    let refused: &[(&str, &str, Pairs)] = &[
        ("bob.test", "/stream/song.mp3", &[]),
        ("bob.test", "/stream/song.mp3", &[("Authorization", &wrong)]),
        ("bob.test", "/stream/song.mp3", &[("Authorization", &short)]),
        ("bob.test", "/stream/song.mp3", &[("Authorization", TOKEN)]),
        ("bob.test", "/stream/song.mp3", &[("Authorization", "Basic Ym9iOnMzY3JldA==")]),
        ("bob.test", "/stream/song.mp3?token=wrong", &[]),
        ("bob.test", "/stream/song.mp3?token=", &[]),
        ("bob.test", "/stream/song.mp3?tok=s3cret-token", &[]),
        ("bob.test", "/stream/missing.mp3", &[]),
        ("127.0.0.1", "/bob/stream/song.mp3", &[]),
        ("127.0.0.1", "/bob/stream/song.mp3?token=nope", &[]),
    ];
    for (host, target, headers) in refused {
        let what = format!("Host: {host}, GET {target} {headers:?}");
        let response = server.get_from(host, target, headers);
        assert_eq!(response.status, 401, "{what}: {}", response.summary());
        response.expect_json_error();
        assert_eq!(response.header("www-authenticate").as_deref(), Some("Bearer"), "{what}");
    }
    let bearer = format!("Bearer {TOKEN}");
    let query = format!("/stream/song.mp3?token={TOKEN}");
    let prefixed = format!("/bob/stream/song.mp3?token={TOKEN}");
    let admitted: &[(&str, &str, Pairs)] = &[
        ("bob.test", "/stream/song.mp3", &[("Authorization", &bearer)]),
        ("bob.test", &query, &[]),
        ("127.0.0.1", "/bob/stream/song.mp3", &[("Authorization", &bearer)]),
        ("127.0.0.1", &prefixed, &[]),
    ];
    for (host, target, headers) in admitted {
        let response = server.get_from(host, target, headers);
        assert_body(&response, &bob_song, &format!("Host: {host}, GET {target} {headers:?}"));
    }
    // Alice has no token: whatever Authorization a client sends, she answers.
    let response = server.get_from("alice.test", "/stream/song.mp3", &[("Authorization", &wrong)]);
    assert_body(&response, &alice.read("song.mp3"), "Alice with someone's wrong token");
}

// ---------------------------------------------------------------------------------------
// A hostile tenant beside a well-behaved one
// ---------------------------------------------------------------------------------------

/// In every file of the well-behaved tenant: the hostile guest must never send it.
const GOOD_MARKER: &str = "GOOD-TENANT-PRIVATE";
/// What the hostile guest must be able to read in its own dir (its `controls`).
const CONTROL_BYTES: &[u8] = b"ID3 control file inside MUSIC_DIR";
/// CPU budget of the hostile tenant's requests (the default).
const EVIL_CPU_MS: u64 = 1000;

/// Tenant `good` (`good.test`, the embedded guest) and tenant `evil` (`evil.test`, the
/// hostile guest, default limits) on one server.
struct Neighbours {
    server: TestServer,
    good: Library,
    _evil: Library,
    _config: ConfigDir,
}

impl Neighbours {
    fn start() -> Neighbours {
        let (good, evil, config) = (Library::empty(), Library::empty(), ConfigDir::new());
        good.add("song.mp3", &tagged(GOOD_MARKER, 16 * 1024));
        evil.add("control.mp3", CONTROL_BYTES);
        let path = config.config(
            "tapedeck.toml",
            false,
            &[
                Tenant::new("good", good.music_dir()).hosts(&["good.test"]),
                Tenant::new("evil", evil.music_dir())
                    .hosts(&["evil.test"])
                    .guest(Path::new(HOSTILE_GUEST))
                    .limit("cpu_ms", EVIL_CPU_MS),
            ],
        );
        Neighbours { server: TestServer::start_config(&path), good, _evil: evil, _config: config }
    }

    /// Runs `abuse` while a client loops on the good tenant; asserts that every one of the
    /// good tenant's requests succeeded with its exact bytes, and prints their median and
    /// largest latency beside those of the same client just before. Returns what `abuse`
    /// returned and the largest latency.
    #[track_caller]
    fn good_tenant_during<T>(&self, what: &str, abuse: impl FnOnce() -> T) -> (T, Duration) {
        let expected = self.good.read("song.mp3");
        let baseline = GoodClient::start(self.server.addr(), expected.clone());
        std::thread::sleep(Duration::from_millis(300));
        let (mut quiet, quiet_failures) = baseline.stop();
        assert!(quiet_failures.is_empty(), "before any abuse: {quiet_failures:?}");
        let client = GoodClient::start(self.server.addr(), expected);
        let outcome = abuse();
        let (mut latencies, failures) = client.stop();
        let (p50, max) = median_and_max(&mut latencies);
        let (quiet_p50, quiet_max) = median_and_max(&mut quiet);
        let report = format!(
            "latency of the well-behaved tenant while a neighbour's guest {what}: p50 {p50:?}, \
             max {max:?} over {} requests ({} failed); alone: p50 {quiet_p50:?}, max \
             {quiet_max:?} over {} requests",
            latencies.len() + failures.len(),
            failures.len(),
            quiet.len()
        );
        eprintln!("{report}");
        assert!(
            failures.is_empty(),
            "{report}; first failures: {:?}",
            &failures[..failures.len().min(5)]
        );
        assert!(latencies.len() >= 3, "{report}: too few requests to show anything");
        (outcome, max)
    }
}

/// A client GETting the good tenant's song in a loop on fresh connections, until stopped.
struct GoodClient {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Vec<Duration>, Vec<String>)>,
}

impl GoodClient {
    fn start(addr: std::net::SocketAddr, expected: Vec<u8>) -> GoodClient {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut latencies, mut failures) = (Vec::new(), Vec::new());
            while !stopped.load(Ordering::Relaxed) {
                let started = Instant::now();
                match http::try_request_to(addr, "good.test", "/stream/song.mp3", &[]) {
                    Ok(r) if r.status == 200 && r.body == expected => {
                        latencies.push(started.elapsed());
                    }
                    Ok(r) => failures.push(r.summary()),
                    Err(e) => failures.push(e),
                }
            }
            (latencies, failures)
        });
        GoodClient { stop, thread }
    }

    fn stop(self) -> (Vec<Duration>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the good tenant's client panicked")
    }
}

/// `threads` clients each sending `GET target` to the evil tenant until `at_least` has
/// passed (at least once each); every response.
fn abuse(
    addr: std::net::SocketAddr,
    target: &str,
    threads: usize,
    at_least: Duration,
) -> Vec<Response> {
    let started = Instant::now();
    let clients: Vec<JoinHandle<Vec<Response>>> = (0..threads)
        .map(|_| {
            let target = target.to_owned();
            std::thread::spawn(move || {
                let mut responses = Vec::new();
                while responses.is_empty() || started.elapsed() < at_least {
                    responses.push(http::request_to(addr, "evil.test", "GET", &target, &[], None));
                }
                responses
            })
        })
        .collect();
    clients.into_iter().flat_map(|c| c.join().expect("abusive client panicked")).collect()
}

#[test]
fn well_behaved_tenant_keeps_serving_while_a_neighbours_guest_traps() {
    let neighbours = Neighbours::start();
    let addr = neighbours.server.addr();
    let (responses, _) =
        neighbours.good_tenant_during("traps", || abuse(addr, "/trap", 4, Duration::from_secs(1)));
    for response in &responses {
        assert_eq!(response.status, 500, "a trapping guest: {}", response.summary());
        response.expect_json_error();
    }
    eprintln!("{} trapping requests meanwhile", responses.len());
}

#[test]
fn well_behaved_tenant_keeps_serving_while_a_neighbours_guest_spins() {
    let neighbours = Neighbours::start();
    let addr = neighbours.server.addr();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    // One spinning guest, then twice as many as this machine has cores.
    for threads in [1, 2 * cores] {
        let what = format!("spins ({threads} at a time on {cores} cores)");
        let started = Instant::now();
        let (responses, max) = neighbours.good_tenant_during(&what, || {
            abuse(addr, "/spin", threads, Duration::from_millis(EVIL_CPU_MS / 2))
        });
        for response in &responses {
            assert_eq!(response.status, 503, "a spinning guest: {}", response.summary());
            let message = response.expect_json_error();
            assert!(message.contains("CPU"), "a spinning guest: {}", response.summary());
        }
        eprintln!("{} spinning requests in {:?}", responses.len(), started.elapsed());
        // Had a good request waited for a spinning guest to be stopped, it would have
        // taken that guest's whole CPU budget.
        assert!(
            max < Duration::from_millis(EVIL_CPU_MS),
            "a request of the well-behaved tenant took {max:?} while a neighbour's guest {what}"
        );
    }
}

#[test]
fn well_behaved_tenant_keeps_serving_while_a_neighbours_guest_allocates_without_bound() {
    let neighbours = Neighbours::start();
    let addr = neighbours.server.addr();
    let (responses, _) = neighbours.good_tenant_during("allocates without bound", || {
        // 64 MiB at a time and 1 MiB at a time (filling memory up to the limit).
        let mut all = abuse(addr, "/alloc", 2, Duration::from_millis(500));
        all.extend(abuse(addr, "/alloc?chunk_mib=1", 2, Duration::from_millis(500)));
        all
    });
    for response in &responses {
        assert_eq!(response.status, 503, "an allocating guest: {}", response.summary());
        let message = response.expect_json_error();
        assert!(message.contains("memory"), "an allocating guest: {}", response.summary());
    }
    eprintln!("{} allocating requests meanwhile", responses.len());
    let peak = neighbours.server.peak_rss();
    assert!(peak < 512 << 20, "the host grew to {} MiB", peak >> 20);
}

#[test]
fn well_behaved_tenant_keeps_serving_while_a_neighbours_guest_reads_outside_its_dir() {
    let neighbours = Neighbours::start();
    let addr = neighbours.server.addr();
    let good_dir = neighbours.good.music_dir().to_string_lossy().into_owned();
    let good_song = format!("{good_dir}/song.mp3");
    let good_root = neighbours.good.root().file_name().unwrap().to_string_lossy().into_owned();
    // The good tenant's files by absolute path, and by climbing out of the evil tenant's
    // dir (both libraries live side by side in the temp dir).
    let tries = [
        good_song.clone(),
        good_dir.clone(),
        format!("../../{good_root}/music/song.mp3"),
        format!("../../../../../..{good_song}"),
    ];
    let query: Vec<String> = tries.iter().map(|t| format!("try={}", pct_segment(t))).collect();
    let target = format!("/escape/files?{}", query.join("&"));
    let (responses, _) = neighbours.good_tenant_during("reads outside its dir", || {
        abuse(addr, &target, 2, Duration::from_secs(1))
    });
    for response in &responses {
        assert_eq!(response.status, 200, "the escaping guest's report: {}", response.summary());
        let text = response.text();
        assert!(!text.contains(GOOD_MARKER), "the hostile guest read the good tenant's file");
        assert!(!text.contains(SECRET_MARKER), "the hostile guest read a secret");
        let json = response.json();
        let attempts = json["attempts"].as_object().expect("attempts");
        for try_ in &tries {
            let tried: Vec<_> =
                attempts.iter().filter(|(key, _)| key.ends_with(try_.as_str())).collect();
            assert!(!tried.is_empty(), "`{try_}` was not tried: {json}");
            for (key, outcome) in tried {
                let outcome = outcome.as_str().unwrap_or_default();
                assert!(outcome.starts_with("err:"), "the hostile guest got `{key}`: {outcome}");
            }
        }
        let controls = json["controls"].as_object().expect("controls");
        assert!(
            !controls.is_empty()
                && controls.values().all(|c| c
                    .as_str()
                    .is_some_and(|c| { c.contains(std::str::from_utf8(CONTROL_BYTES).unwrap()) })),
            "the hostile guest cannot read its own dir: the test proves nothing: {controls:?}"
        );
    }
    eprintln!("{} escape attempts meanwhile", responses.len());
}

// ---------------------------------------------------------------------------------------
// The request cap
// ---------------------------------------------------------------------------------------

#[test]
fn tenant_at_max_requests_answers_503_with_retry_after_and_its_neighbour_is_unaffected() {
    let (library, config) = (Library::empty(), ConfigDir::new());
    // Far larger than what the socket buffers hold: the holder's response stays in flight.
    library.add_sparse_file("big.mp3", 64 << 20, &[(0, b"ID3 big")]);
    library.add("song.mp3", &tagged("song", 10_000));
    let path = config.config(
        "tapedeck.toml",
        true,
        &[
            Tenant::new("capped", library.music_dir())
                .hosts(&["capped.test"])
                .limit("max_requests", 1),
            Tenant::new("free", library.music_dir()).hosts(&["free.test"]),
        ],
    );
    let server = TestServer::start_config(&path);
    let song = library.read("song.mp3");

    let mut holder = OpenStream::open_to(server.addr(), "capped.test", "/stream/big.mp3", &[]);
    assert_eq!(holder.head.status, 200, "the held stream: {}", holder.head.summary());
    let _ = holder.read(64 * 1024);
    let mut refused = 0;
    for _ in 0..3 {
        let busy = server.get_from("capped.test", "/stream/song.mp3", &[]);
        assert_eq!(busy.status, 503, "a second request past max_requests = 1: {}", busy.summary());
        let retry = busy.expect_header("retry-after");
        assert!(retry.parse::<u32>().is_ok(), "Retry-After `{retry}` is not delay-seconds");
        busy.expect_json_error();
        refused += 1;
        let free = server.get_from("free.test", "/stream/song.mp3", &[]);
        assert_body(&free, &song, "the other tenant while `capped` is at its cap");
    }
    let metrics = server.metrics();
    let hits =
        metrics.value("tapedeck_limit_hits_total", &[("tenant", "capped"), ("limit", "requests")]);
    assert_eq!(hits, f64::from(refused), "limit hits of `capped`:\n{}", metrics.text);

    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.get_from("capped.test", "/stream/song.mp3", &[]);
        if response.status == 200 {
            assert_body(&response, &song, "after the held stream was dropped");
            break;
        }
        assert_eq!(response.status, 503, "while the dropped stream ends: {}", response.summary());
        assert!(Instant::now() < deadline, "the dropped stream's place was not freed in 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Swapping the guest
// ---------------------------------------------------------------------------------------

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
                        None => {
                            http::try_request_to(addr, &addr.to_string(), "/stream/song.mp3", &[])
                        }
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
    let admin_line = format!("admin_listen = \"{}\"\n", server.admin_addr());
    let listen_line = format!("listen = \"{}\"\n", server.addr());
    let rewrite = |extra: &str, tenant: Tenant| {
        let toml = format!("{listen_line}{admin_line}{extra}\n{}", tenant.toml());
        dir.replace("tapedeck.toml", toml);
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

// ---------------------------------------------------------------------------------------
// Invalid configs
// ---------------------------------------------------------------------------------------

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
        ("no tenant", config_toml(false, "", &[]), "tenant"),
        ("guest that is not wasm", config_toml(false, "", &[alice().guest(&not_wasm)]), "alice"),
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

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

#[test]
fn metrics_count_exactly_the_requests_bytes_guests_and_limits_of_known_traffic() {
    let (a_library, b_library, dir) = (Library::empty(), Library::empty(), ConfigDir::new());
    a_library.add("song.mp3", &tagged("a", 12_345));
    let path = dir.config(
        "tapedeck.toml",
        true,
        &[
            Tenant::new("a", a_library.music_dir()).hosts(&["a.test"]),
            Tenant::new("b", b_library.music_dir())
                .hosts(&["b.test"])
                .guest(Path::new(HOSTILE_GUEST))
                .token(TOKEN)
                .limit("cpu_ms", 200),
        ],
    );
    let server = TestServer::start_config(&path);
    let bearer = format!("Bearer {TOKEN}");
    let auth: Pairs = &[("Authorization", &bearer)];
    let (oks, not_found) = (5, 3);
    let mut a_bytes = 0;
    for _ in 0..oks {
        let response = server.get_from("a.test", "/stream/song.mp3", &[]);
        assert_body(&response, &a_library.read("song.mp3"), "a's song");
        a_bytes += response.body.len();
    }
    for _ in 0..not_found {
        let response = server.get_from("a.test", "/stream/missing.mp3", &[]);
        assert_eq!(response.status, 404, "{}", response.summary());
        a_bytes += response.body.len();
    }
    let trap = server.get_from("b.test", "/trap", auth);
    assert_eq!(trap.status, 500, "{}", trap.summary());
    let unauthorized = server.get_from("b.test", "/", &[]);
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.summary());
    let health = server.get("/health", &[]);
    assert_eq!(health.status, 200, "{}", health.summary());
    let nobody = server.get_from("nobody.test", "/stream/song.mp3", &[]);
    assert_eq!(nobody.status, 404, "{}", nobody.summary());
    let b_bytes = trap.body.len() + unauthorized.body.len();

    let requests = "tapedeck_requests_total";
    let expected_first: &[Expected] = &[
        (requests, &[("tenant", "a"), ("status", "200")], f64::from(oks)),
        (requests, &[("tenant", "a"), ("status", "404")], f64::from(not_found)),
        (requests, &[("tenant", "b"), ("status", "500")], 1.0),
        (requests, &[("tenant", "b"), ("status", "401")], 1.0),
        (requests, &[("tenant", "-"), ("status", "200")], 1.0),
        (requests, &[("tenant", "-"), ("status", "404")], 1.0),
        ("tapedeck_response_bytes_total", &[("tenant", "a")], a_bytes as f64),
        ("tapedeck_response_bytes_total", &[("tenant", "b")], b_bytes as f64),
        // Every request a guest ran: a's 8, b's trap (the 401 never reached b's guest).
        (
            "tapedeck_guest_instantiation_seconds_count",
            &[("tenant", "a")],
            f64::from(oks + not_found),
        ),
        ("tapedeck_guest_instantiation_seconds_count", &[("tenant", "b")], 1.0),
        ("tapedeck_guest_handler_seconds_count", &[("tenant", "a")], f64::from(oks + not_found)),
        ("tapedeck_guest_handler_seconds_count", &[("tenant", "b")], 1.0),
        ("tapedeck_guest_traps_total", &[("tenant", "a")], 0.0),
        ("tapedeck_guest_traps_total", &[("tenant", "b")], 1.0),
        ("tapedeck_active_streams", &[("tenant", "a")], 0.0),
        ("tapedeck_active_streams", &[("tenant", "b")], 0.0),
        ("tapedeck_active_decoders", &[("tenant", "a")], 0.0),
        ("tapedeck_limit_hits_total", &[("tenant", "b"), ("limit", "cpu")], 0.0),
    ];
    assert_metrics(&server, expected_first);
    let scrape = server.metrics();
    let total: f64 = scrape.matching(requests, &[]).map(|s| s.value).sum();
    assert_eq!(total, f64::from(oks + not_found) + 4.0, "requests in all:\n{}", scrape.text);
    for name in [
        "tapedeck_guest_instantiation_seconds_bucket",
        "tapedeck_guest_handler_seconds_sum",
        "tapedeck_active_decoders",
    ] {
        assert!(scrape.has(name), "no `{name}` series:\n{}", scrape.text);
    }

    let spin = server.get_from("b.test", "/spin", auth);
    assert_eq!(spin.status, 503, "{}", spin.summary());
    let expected_after_spin: &[Expected] = &[
        ("tapedeck_limit_hits_total", &[("tenant", "b"), ("limit", "cpu")], 1.0),
        ("tapedeck_limit_hits_total", &[("tenant", "b"), ("limit", "memory")], 0.0),
        ("tapedeck_limit_hits_total", &[("tenant", "a"), ("limit", "cpu")], 0.0),
        (requests, &[("tenant", "b"), ("status", "503")], 1.0),
        ("tapedeck_guest_instantiation_seconds_count", &[("tenant", "b")], 2.0),
        ("tapedeck_response_bytes_total", &[("tenant", "b")], (b_bytes + spin.body.len()) as f64),
    ];
    assert_metrics(&server, expected_after_spin);
}

/// Asserts each `(series, labels, value)`; a response is counted when its body is done,
/// which may be a moment after the client has read it, so this polls for up to 2 s.
#[track_caller]
fn assert_metrics(server: &TestServer, expected: &[Expected]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let scrape = server.metrics();
        let wrong: Vec<String> = expected
            .iter()
            .filter_map(|(name, labels, value)| {
                let got = scrape.value(name, labels);
                (got != *value).then(|| format!("{name}{labels:?} = {got}, expected {value}"))
            })
            .collect();
        if wrong.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{}\nscrape:\n{}", wrong.join("\n"), scrape.text);
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Shutdown and replicas
// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_refuses_new_connections_and_lets_a_stream_in_flight_finish_then_exits_0() {
    let library = Library::empty();
    let len = 24 << 20;
    library.add("big.mp3", &tagged("big", len));
    let expected = library.read("big.mp3");
    let mut server = TestServer::start(library);
    let addr = server.addr();
    let mut stream = OpenStream::open(addr, "/stream/big.mp3", &[("Connection", "close")]);
    assert_eq!(stream.head.status, 200, "{}", stream.head.summary());
    let mut body = stream.read(256 * 1024);

    let term = Instant::now();
    server.signal("TERM");
    // New connections are refused once the listener is closed.
    let refused_after = loop {
        match std::net::TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break term.elapsed(),
            _ => {}
        }
        assert!(term.elapsed() < Duration::from_secs(2), "still accepting 2 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    // The stream in flight is read slowly to its end.
    while body.len() + (1 << 20) < expected.len() {
        body.extend(stream.read(1 << 20));
        std::thread::sleep(Duration::from_millis(15));
    }
    body.extend(stream.rest());
    let read_for = term.elapsed();
    assert_same_bytes(&body, &expected, "a stream in flight at SIGTERM");
    let status = server.wait_exit(Duration::from_secs(10));
    eprintln!(
        "SIGTERM: new connections refused after {refused_after:?}; the stream in flight \
         finished {read_for:?} after it; exit {status} after {:?}",
        term.elapsed()
    );
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let log = server.log_text();
    assert!(log.contains("path=/stream/big.mp3 status=200"), "no log line of the stream:\n{log}");
}

#[test]
fn replicas_give_identical_etag_and_last_modified_for_the_same_file() {
    let library = Library::empty();
    library.add("song.mp3", &encoded(Format::Mp3));
    library.add("tone.flac", &encoded(Format::Flac));
    library.add("tone.wv", &encoded(Format::Wv));
    // An mtime with nanoseconds: a validator that rounds differently per process shows.
    let fine = std::fs::File::options().write(true).open(library.path("tone.flac")).unwrap();
    fine.set_modified(SystemTime::UNIX_EPOCH + Duration::new(1_749_988_800, 123_456_789)).unwrap();
    drop(fine);
    // A copy of the library with the same bytes and mtimes, as rsync -a or an image layer
    // gives each replica its own disk.
    let copy = tempfile::Builder::new().prefix("tapedeck-replica-").tempdir().expect("temp dir");
    let copied = Command::new("cp").arg("-a").arg(library.music_dir()).arg(copy.path()).status();
    assert!(copied.is_ok_and(|s| s.success()), "cp -a failed");

    let first = TestServer::start(library);
    let replicas = [
        Launch::music_dir(first.library().music_dir()).start(),
        Launch::music_dir(&copy.path().join("music")).start(),
    ];
    for target in ["/stream/song.mp3", "/stream/tone.flac", "/stream/wav/tone.wv"] {
        let reference = first.head(target, &[]);
        assert_eq!(reference.status, 200, "{target}: {}", reference.summary());
        let etag = reference.expect_header("etag");
        let modified = reference.expect_header("last-modified");
        for (index, replica) in replicas.iter().enumerate() {
            let what = format!("{target} on replica {}", index + 1);
            let response = replica.head(target, &[]);
            assert_eq!(response.status, 200, "{what}: {}", response.summary());
            assert_eq!(response.header("etag").as_ref(), Some(&etag), "{what}: ETag");
            assert_eq!(response.header("last-modified").as_ref(), Some(&modified), "{what}");
            // A validator one replica gave is good on the other.
            let revalidated = replica.get(target, &[("If-None-Match", &etag)]);
            assert_eq!(
                revalidated.status,
                304,
                "{what}, If-None-Match from the first: {}",
                revalidated.summary()
            );
            let resumed = replica.get(target, &[("Range", "bytes=10-19"), ("If-Range", &etag)]);
            assert_eq!(
                resumed.status,
                206,
                "{what}, If-Range from the first: {}",
                resumed.summary()
            );
        }
    }
}
