//! Tenants from a config file: reached by Host header or path prefix, each seeing only its
//! own music dir, guarded by its token, and capped in requests in flight without its
//! neighbour noticing.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::bytes::tagged;
use crate::support::config::{ConfigDir, Tenant, config_toml};
use crate::support::connection::OpenStream;
use crate::support::library::MUSIC_DIR_NAME;
use crate::support::{Library, Pairs, TestServer, assert_body};

/// What a request must get: the body of a 200, or the status of a JSON error.
type Outcome<'a> = Result<&'a [u8], u16>;

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
        let alice_dir = Path::new(MUSIC_DIR_NAME);
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
