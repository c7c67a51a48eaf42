//! Metrics on the admin listener: after known traffic from two tenants, every series counts
//! exactly the requests, bytes, guest runs, traps and limit hits it was sent.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::config::{ConfigDir, Tenant};
use crate::support::guest::HOSTILE_GUEST;
use crate::support::{Library, Pairs, TestServer, assert_body};

/// The token of tenant `b`.
const TOKEN: &str = "s3cret-token";

/// What a series must read.
#[derive(Debug, Clone, Copy)]
enum Reads {
    /// The series exists with this value.
    Value(f64),
    /// A labelled series (a status, a limit) that nothing has touched: absent, or 0.
    Untouched,
}

use Reads::{Untouched, Value};

/// A series, its labels, and what it must read.
type Expected<'a> = (&'a str, Pairs<'a>, Reads);

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
        (requests, &[("tenant", "a"), ("status", "200")], Value(f64::from(oks))),
        (requests, &[("tenant", "a"), ("status", "404")], Value(f64::from(not_found))),
        (requests, &[("tenant", "b"), ("status", "500")], Value(1.0)),
        (requests, &[("tenant", "b"), ("status", "401")], Value(1.0)),
        (requests, &[("tenant", "-"), ("status", "200")], Value(1.0)),
        (requests, &[("tenant", "-"), ("status", "404")], Value(1.0)),
        ("tapedeck_response_bytes_total", &[("tenant", "a")], Value(a_bytes as f64)),
        ("tapedeck_response_bytes_total", &[("tenant", "b")], Value(b_bytes as f64)),
        // Every request a guest ran: a's 8, b's trap (the 401 never reached b's guest).
        (
            "tapedeck_guest_instantiation_seconds_count",
            &[("tenant", "a")],
            Value(f64::from(oks + not_found)),
        ),
        ("tapedeck_guest_instantiation_seconds_count", &[("tenant", "b")], Value(1.0)),
        (
            "tapedeck_guest_handler_seconds_count",
            &[("tenant", "a")],
            Value(f64::from(oks + not_found)),
        ),
        ("tapedeck_guest_handler_seconds_count", &[("tenant", "b")], Value(1.0)),
        ("tapedeck_guest_traps_total", &[("tenant", "a")], Value(0.0)),
        ("tapedeck_guest_traps_total", &[("tenant", "b")], Value(1.0)),
        ("tapedeck_active_streams", &[("tenant", "a")], Value(0.0)),
        ("tapedeck_active_streams", &[("tenant", "b")], Value(0.0)),
        ("tapedeck_active_decoders", &[("tenant", "a")], Value(0.0)),
        ("tapedeck_limit_hits_total", &[("tenant", "b"), ("limit", "cpu")], Untouched),
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
        ("tapedeck_limit_hits_total", &[("tenant", "b"), ("limit", "cpu")], Value(1.0)),
        ("tapedeck_limit_hits_total", &[("tenant", "b"), ("limit", "memory")], Untouched),
        ("tapedeck_limit_hits_total", &[("tenant", "a"), ("limit", "cpu")], Untouched),
        (requests, &[("tenant", "b"), ("status", "503")], Value(1.0)),
        ("tapedeck_guest_instantiation_seconds_count", &[("tenant", "b")], Value(2.0)),
        (
            "tapedeck_response_bytes_total",
            &[("tenant", "b")],
            Value((b_bytes + spin.body.len()) as f64),
        ),
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
            .filter_map(|(name, labels, reads)| {
                let got = match reads {
                    Value(_) => scrape.lookup(name, labels),
                    Untouched => scrape.lookup_or_zero(name, labels),
                };
                let want = match reads {
                    Value(value) => *value,
                    Untouched => 0.0,
                };
                match got {
                    Ok(got) if got == want => None,
                    Ok(got) => Some(format!("{name}{labels:?} = {got}, expected {reads:?}")),
                    Err(missing) => Some(missing),
                }
            })
            .collect();
        if wrong.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{}\nscrape:\n{}", wrong.join("\n"), scrape.text);
        std::thread::sleep(Duration::from_millis(20));
    }
}
