//! A well-behaved tenant beside a hostile one on the same server: the hostile tenant runs a
//! hostile guest or serves a hostile library, and while a test attacks through it, a client
//! of the well-behaved tenant GETs its file in a loop; every one of its requests must succeed
//! with its exact bytes and within [`LATENCY_BOUND`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::bytes::tagged;
use super::config::{ConfigDir, Tenant, config_toml};
use super::http::{self, Response};
use super::library::Library;
use super::server::TestServer;

/// The well-behaved tenant's `Host`.
pub const GOOD_HOST: &str = "good.test";
/// The hostile tenant's `Host`; its name in logs and metrics is [`HOSTILE_TENANT`].
pub const HOSTILE_HOST: &str = "hostile.test";
pub const HOSTILE_TENANT: &str = "hostile";
/// The well-behaved tenant's one file, and what it holds.
const GOOD_FILE: &str = "song.mp3";
const GOOD_MARKER: &str = "WELL-BEHAVED-TENANT";
const GOOD_LEN: usize = 16 * 1024;
/// The slowest any of the well-behaved tenant's requests may be while the neighbour attacks.
/// Loose, because the machine is shared (two cores, and other tests running beside): it
/// catches a request that waited for an attack (a worker held by a guest's wait or a stuck
/// open, seconds to forever), not a slow machine.
pub const LATENCY_BOUND: Duration = Duration::from_secs(3);
/// How long the well-behaved client runs alone first, for the comparison it prints, and at
/// least beside the attack.
const QUIET_TIME: Duration = Duration::from_millis(300);

/// One server with tenant `good` (the embedded guest, a plain file) and tenant `hostile`;
/// both libraries live as long as it does.
pub struct TwoTenants {
    pub server: TestServer,
    pub hostile: Library,
    good: Library,
    _config: ConfigDir,
}

impl TwoTenants {
    /// Serves `hostile` as tenant `hostile`, its table shaped by `configure` (a guest,
    /// limits), beside tenant `good`; `top` is extra top-level config (such as
    /// `decoder_uid = …`). The admin listener is on, for `/metrics`.
    pub fn start(hostile: Library, top: &str, configure: impl FnOnce(Tenant) -> Tenant) -> Self {
        let good = Library::empty();
        good.add(GOOD_FILE, &tagged(GOOD_MARKER, GOOD_LEN));
        let tenants = [
            Tenant::new("good", good.music_dir()).hosts(&[GOOD_HOST]),
            configure(Tenant::new(HOSTILE_TENANT, hostile.music_dir()).hosts(&[HOSTILE_HOST])),
        ];
        let config = ConfigDir::new();
        let path = config.write("tapedeck.toml", config_toml(true, top, &tenants));
        TwoTenants { server: TestServer::start_config(&path), hostile, good, _config: config }
    }

    /// `GET target` from the hostile tenant.
    #[track_caller]
    pub fn get(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        self.server.get_from(HOSTILE_HOST, target, headers)
    }

    /// Runs `attack` while a client loops on the well-behaved tenant (for at least
    /// [`QUIET_TIME`]), and asserts that each of that client's requests got its file's exact
    /// bytes within [`LATENCY_BOUND`]. Prints its latencies, and those of the same client
    /// alone just before. Returns what `attack` returned and the latencies.
    #[track_caller]
    pub fn good_tenant_during<T>(&self, what: &str, attack: impl FnOnce() -> T) -> (T, Latencies) {
        let expected = self.good.read(GOOD_FILE);
        let alone = good_client(self.server.addr(), expected.clone());
        std::thread::sleep(QUIET_TIME);
        let alone = alone.stop();
        let (client, started) = (good_client(self.server.addr(), expected), Instant::now());
        let outcome = attack();
        // An attack over quickly still gets a client's worth of requests beside it.
        std::thread::sleep(QUIET_TIME.saturating_sub(started.elapsed()));
        let during = client.stop();
        let report =
            format!("the well-behaved tenant while its neighbour {what}: {during}; alone: {alone}");
        eprintln!("{report}");
        assert!(alone.failures.is_empty(), "before the attack: {report}");
        assert!(during.failures.is_empty(), "{report}");
        assert!(during.count() >= 3, "{report}: too few requests to show anything");
        assert!(during.max() < LATENCY_BOUND, "{report}: a request took over {LATENCY_BOUND:?}");
        (outcome, during)
    }
}

/// What the well-behaved client saw: the latency of each success, and each failure.
pub struct Latencies {
    /// Sorted.
    samples: Vec<Duration>,
    pub failures: Vec<String>,
}

impl Latencies {
    fn new(mut samples: Vec<Duration>, failures: Vec<String>) -> Self {
        samples.sort();
        Latencies { samples, failures }
    }

    /// Requests that succeeded.
    pub fn count(&self) -> usize {
        self.samples.len()
    }

    /// The latency that a fraction `q` of the successes did not exceed (nearest rank).
    pub fn quantile(&self, q: f64) -> Duration {
        let rank = (q * self.samples.len() as f64).ceil() as usize;
        self.samples.get(rank.saturating_sub(1)).copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.samples.last().copied().unwrap_or_default()
    }
}

impl std::fmt::Display for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:?}, p99 {:?}, max {:?} over {} requests ({} failed{})",
            self.quantile(0.5),
            self.quantile(0.99),
            self.max(),
            self.count() + self.failures.len(),
            self.failures.len(),
            match self.failures.first() {
                Some(first) => format!(", the first: {first}"),
                None => String::new(),
            }
        )
    }
}

/// A request made again and again on a thread of its own, each call timed, until stopped;
/// an `Err` is a failure, saying what went wrong.
pub struct Repeat {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Latencies>,
}

impl Repeat {
    pub fn start(mut request: impl FnMut() -> Result<(), String> + Send + 'static) -> Repeat {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut samples, mut failures) = (Vec::new(), Vec::new());
            while !stopped.load(Ordering::Relaxed) {
                let started = Instant::now();
                match request() {
                    Ok(()) => samples.push(started.elapsed()),
                    Err(failure) => failures.push(failure),
                }
                // A pause between requests leaves the attack the machine's other core.
                std::thread::sleep(Duration::from_millis(5));
            }
            Latencies::new(samples, failures)
        });
        Repeat { stop, thread }
    }

    pub fn stop(self) -> Latencies {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("a repeating client panicked")
    }
}

/// GETs the well-behaved tenant's file again and again, each time on a fresh connection so
/// that every worker thread takes its share.
fn good_client(addr: SocketAddr, expected: Vec<u8>) -> Repeat {
    let target = format!("/stream/{GOOD_FILE}");
    Repeat::start(move || {
        let response = http::try_request(addr, GOOD_HOST, "GET", &target, &[], None)?;
        if response.status == 200 && response.body == expected {
            Ok(())
        } else {
            Err(response.summary())
        }
    })
}
