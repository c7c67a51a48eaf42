//! A hostile tenant beside a well-behaved one: while the neighbour's guest traps, spins,
//! allocates without bound or reads outside its dir, the well-behaved tenant's every request
//! still gets its exact bytes, and none waits for the neighbour's limits to strike.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::config::{ConfigDir, Tenant};
use crate::support::guest::{
    HOSTILE_GUEST, MEMORY_CEILING, add_control_file, assert_controls_read,
};
use crate::support::http::{self, Response, pct_segment};
use crate::support::library::SECRET_MARKER;
use crate::support::{Library, TestServer, median_and_max};

/// In every file of the well-behaved tenant: the hostile guest must never send it.
const GOOD_MARKER: &str = "GOOD-TENANT-PRIVATE";
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
        add_control_file(&evil);
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
    fn start(addr: SocketAddr, expected: Vec<u8>) -> GoodClient {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut latencies, mut failures) = (Vec::new(), Vec::new());
            while !stopped.load(Ordering::Relaxed) {
                let started = Instant::now();
                match http::try_request(addr, "good.test", "GET", "/stream/song.mp3", &[], None) {
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
fn abuse(addr: SocketAddr, target: &str, threads: usize, at_least: Duration) -> Vec<Response> {
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
    assert!(peak < MEMORY_CEILING, "the host grew to {} MiB", peak >> 20);
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
        assert_controls_read(&json);
    }
    eprintln!("{} escape attempts meanwhile", responses.len());
}
