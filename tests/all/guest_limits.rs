//! A guest's limits beyond CPU and memory, proven with the hostile guest against the real
//! server: the wall-clock time it may take to answer (time in host calls included), the
//! descriptors one instance may open, the literal bytes it may hand the host for a body,
//! and a FIFO handed to the host's decoders. Each attack runs beside a well-behaved tenant
//! whose requests keep succeeding.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::bystander::{HOSTILE_HOST, HOSTILE_TENANT, LATENCY_BOUND, Repeat, TwoTenants};
use crate::support::bytes::pattern;
use crate::support::config::Tenant;
use crate::support::guest::{HOSTILE_GUEST, add_control_file};
use crate::support::http::{self, Response};
use crate::support::{Library, assert_same_bytes, run};

/// The hostile guest's wall-clock budget in these tests.
const WALL_MS: u64 = 1000;
/// What the server answers a guest that took longer than its budget (503).
const WALL_MESSAGE: &str = "The guest took too long to answer";
/// Opens one instance may make (`MAX_OPENS_PER_INSTANCE`); past them, `quota`.
const OPENS_PER_INSTANCE: u64 = 4096;
/// Literal body bytes the host accepts from a guest, in MiB (`MAX_LITERAL_BYTES`).
const LITERAL_CAP_MIB: u64 = 16;
/// What each flood hands the host: twice the cap.
const FLOOD_BYTES: u64 = 32 << 20;

/// The hostile guest as tenant `hostile`, with a control file and `limits`, beside `good`.
fn hostile_tenant(library: Library, limits: &[(&str, u64)]) -> TwoTenants {
    add_control_file(&library);
    TwoTenants::start(library, "", |tenant: Tenant| {
        limits.iter().fold(tenant.guest(Path::new(HOSTILE_GUEST)), |tenant, (name, value)| {
            tenant.limit(name, *value)
        })
    })
}

/// The hostile tenant's count of hits of `limit`, absent meaning none yet.
fn limit_hits(tenants: &TwoTenants, limit: &str) -> f64 {
    let labels = [("tenant", HOSTILE_TENANT), ("limit", limit)];
    tenants.server.metrics().value_or_zero("tapedeck_limit_hits_total", &labels)
}

/// `GET target` from the hostile tenant, `count` at once; each response with its latency.
fn at_once(tenants: &TwoTenants, target: &str, count: usize) -> Vec<(Response, Duration)> {
    let addr = tenants.server.addr();
    let requests: Vec<JoinHandle<(Response, Duration)>> = (0..count)
        .map(|_| {
            let target = target.to_owned();
            std::thread::spawn(move || {
                let started = Instant::now();
                let response = http::request_to(addr, HOSTILE_HOST, "GET", &target, &[], None);
                (response, started.elapsed())
            })
        })
        .collect();
    requests.into_iter().map(|r| r.join().expect("request thread")).collect()
}

#[test]
fn guest_waiting_on_a_clock_past_its_wall_limit_gets_503_and_is_counted() {
    let tenants = hostile_tenant(Library::empty(), &[("guest_wall_ms", WALL_MS)]);
    // A wait within the budget is answered: the clock works, and it is the limit that
    // stops the long wait.
    let short = tenants.get("/sleep?ms=100", &[]);
    assert_eq!(short.status, 200, "a 100 ms wait: {}", short.summary());
    assert!(short.json()["slept_ms"].as_u64() >= Some(100), "{}", short.summary());

    let before = limit_hits(&tenants, "wall");
    // Each guest waits 30 s inside a host call, where the CPU limit does not see it.
    let waits = 4;
    let (answers, _) = tenants.good_tenant_during("waits 30 s on a clock", || {
        at_once(&tenants, "/sleep?ms=30000", waits)
    });
    let took: Vec<Duration> = answers.iter().map(|(_, took)| *took).collect();
    eprintln!("{waits} waits of 30 s with a {WALL_MS} ms budget answered after {took:?}");
    for (response, took) in &answers {
        assert_eq!(response.status, 503, "a 30 s wait: {}", response.summary());
        assert_eq!(response.expect_json_error(), WALL_MESSAGE);
        let budget = Duration::from_millis(WALL_MS);
        assert!(
            *took >= budget && *took < budget + LATENCY_BOUND,
            "a 30 s wait with a {budget:?} budget was answered after {took:?}"
        );
    }
    let counted = limit_hits(&tenants, "wall") - before;
    assert_eq!(counted, waits as f64, "wall limit hits counted for {waits} cut waits");
    tenants.server.assert_alive();
}

#[test]
fn open_flood_stops_at_the_per_instance_cap_and_every_descriptor_is_closed() {
    let tenants = hostile_tenant(Library::empty(), &[]);
    // Warm up both tenants (their instances, spare instances and connections), then count
    // what the server holds at rest.
    assert_eq!(tenants.get("/warm-up", &[]).status, 200);
    tenants.server.assert_settles(usize::MAX, Duration::from_secs(5), "before the flood");
    let fds_before = tenants.server.fds().len();

    let (reports, _) = tenants.good_tenant_during("opens files until refused", || {
        // Twice: the cap is per instance, so the second flood gets its own 4096.
        [tenants.get("/open-flood", &[]), tenants.get("/open-flood", &[])]
    });
    for report in &reports {
        assert_eq!(report.status, 200, "the flood's report: {}", report.summary());
        let json = report.json();
        assert_eq!(json["opened"].as_u64(), Some(OPENS_PER_INSTANCE), "{json}");
        assert_eq!(json["error"], "quota", "{json}");
    }
    // The instance is gone with its request: so are its 4096 descriptors.
    let settled = tenants.server.settles(fds_before + 2, Duration::from_secs(5));
    eprintln!("open floods: {fds_before} fds before, {} after", tenants.server.fds().len());
    if let Err(left) = settled {
        panic!("after two open floods ({fds_before} fds before): {left}");
    }
    tenants.server.assert_alive();
}

/// The server's RSS once it has stopped changing by more than 1 MiB over 300 ms (at most
/// 5 s).
fn settled_rss(server: &crate::support::TestServer) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = server.rss();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = server.rss();
        if now.abs_diff(last) < 1 << 20 || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

#[test]
fn literal_flood_past_the_cap_fails_that_request_only_and_host_memory_stays_bounded() {
    let tenants = hostile_tenant(Library::empty(), &[]);
    // Under the cap a literal body is sent whole, byte for byte.
    let eight = tenants.get("/literal-flood?mib=8", &[]);
    assert_eq!(eight.status, 200, "8 MiB of literal bytes: {}", eight.summary());
    assert_eq!(eight.content_length(), 8 << 20, "8 MiB: Content-Length");
    assert_same_bytes(&eight.body, &pattern(8 << 20), "8 MiB of literal bytes");

    // Clients that send their request and then do not read, with nothing else going on so
    // that the memory measured is theirs: had the host taken their bodies, it would hold
    // 32 MiB for each until they read.
    let floods = 8;
    let (rss_before, peak_before) = (tenants.server.rss(), tenants.server.peak_rss());
    let clients: Vec<TcpStream> = (0..floods).map(|_| send_flood(&tenants, 32)).collect();
    // Each is logged once its response has been handed to the socket whole: a body the host
    // took would wait for its client.
    let answered = tenants.server.wait_for_log(floods, Duration::from_secs(60), |line| {
        line.contains("path=/literal-flood ") && line.contains(HOSTILE_TENANT)
    });
    assert!(answered, "{floods} unread 32 MiB floods were not all answered within 60 s");
    // The floods' instances give their memory back as they end; measure once that is done.
    let unread = settled_rss(&tenants.server);
    for mut client in clients {
        let received = http::read_to_close(&mut client);
        let response = http::parse_response(&received, false).expect("a response");
        assert_eq!(response.status, 500, "a 32 MiB literal body: {}", response.summary());
        response.expect_json_error();
    }
    let (read, peak) = (tenants.server.rss(), tenants.server.peak_rss());
    let mib = |bytes: u64| bytes >> 20;
    eprintln!(
        "{floods} unread 32 MiB floods: RSS {} MiB before, {} MiB once all were answered, {} \
         MiB once read; peak {} MiB before, {} MiB after",
        mib(rss_before),
        mib(unread),
        mib(read),
        mib(peak_before),
        mib(peak)
    );
    // Nothing was held for the clients that had not read.
    let held = unread.saturating_sub(read);
    assert!(held < FLOOD_BYTES, "the host freed {} MiB when the clients read", mib(held));
    // Each flood's guest filled 32 MiB of its own memory (its limit is 64), which the
    // instance pool keeps committed until it decommits a batch of slots; the host adds a
    // transient copy of the bytes it refuses, of one flood at a time per worker. Had it kept
    // the bodies, each would add 32 MiB more.
    let workers = std::thread::available_parallelism().map_or(2, usize::from) as u64;
    let bound = (floods as u64 + 2 * workers) * FLOOD_BYTES;
    let grown = peak.saturating_sub(peak_before);
    assert!(
        grown < bound,
        "the host grew by {} MiB for {floods} refused 32 MiB bodies (at most {} MiB expected; \
         more than {LITERAL_CAP_MIB} MiB is refused)",
        mib(grown),
        mib(bound)
    );

    // The same beside the well-behaved tenant, clients reading.
    let (answers, _) = tenants.good_tenant_during("hands over 32 MiB bodies", || {
        at_once(&tenants, "/literal-flood?mib=32", floods)
    });
    for (response, _) in &answers {
        assert_eq!(response.status, 500, "a 32 MiB literal body: {}", response.summary());
        response.expect_json_error();
    }
    // The refusals cost their own requests only: the next body is sent.
    let after = tenants.get("/literal-flood?mib=1", &[]);
    assert_eq!(after.status, 200, "1 MiB after the floods: {}", after.summary());
    assert_same_bytes(&after.body, &pattern(1 << 20), "1 MiB after the floods");
}

/// Sends `GET /literal-flood?mib=N` to the hostile tenant and returns the connection unread.
fn send_flood(tenants: &TwoTenants, mib: u32) -> TcpStream {
    let mut socket = http::connect(tenants.server.addr());
    let request = format!(
        "GET /literal-flood?mib={mib} HTTP/1.1\r\nHost: {HOSTILE_HOST}\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).expect("failed to send a flood");
    socket
}

#[test]
fn fifo_handed_to_the_decoders_fails_its_request_and_no_worker_hangs() {
    let library = Library::empty();
    for fifo in ["fifo.wma", "fifo.wv"] {
        run(Command::new("mkfifo").arg(library.path(fifo)));
    }
    let tenants = hostile_tenant(library, &[]);
    // One more than the workers: had each request taken its worker, none would be left.
    let concurrent = std::thread::available_parallelism().map_or(2, usize::from) + 1;
    let addr = tenants.server.addr();
    let health = Repeat::start(move || {
        let response = http::try_request(addr, "-", "GET", "/health", &[], None)?;
        if response.status == 200 { Ok(()) } else { Err(response.summary()) }
    });
    let (answers, _) = tenants.good_tenant_during("probes a FIFO", || {
        let mut answers = at_once(&tenants, "/fifo-probe?path=fifo.wma", concurrent);
        answers.extend(at_once(&tenants, "/fifo-probe?path=fifo.wv", concurrent));
        answers
    });
    let health = health.stop();
    for (response, took) in &answers {
        assert!(*took < LATENCY_BOUND, "a FIFO probe took {took:?}: {}", response.summary());
        // The open itself must not wait for a writer; what the probe then does is the host's
        // choice, as long as it fails this request: a trap (500), or an error the guest sees.
        match response.status {
            500 => _ = response.expect_json_error(),
            200 => {
                let json = response.json();
                assert_eq!(json["open"], "ok:Fifo", "{json}");
                assert!(json["probe"].as_str().is_some_and(|p| p.starts_with("err:")), "{json}");
            }
            _ => panic!("a FIFO probe: {}", response.summary()),
        }
    }
    let traps = answers.iter().filter(|(response, _)| response.status == 500).count();
    eprintln!(
        "{} FIFO probes, {traps} of them trapped; /health meanwhile: {health}",
        answers.len()
    );
    assert!(health.failures.is_empty() && health.count() > 0, "/health: {health}");
    assert!(health.max() < LATENCY_BOUND, "/health during the FIFO probes: {health}");
    tenants.server.assert_alive();
}
