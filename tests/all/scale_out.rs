//! Scale-out past one machine: replicas over the same files give the same validators, and two
//! of them behind nginx on loopback (round-robin, no upstream keepalive) answer a client's
//! consecutive ranges in turn, which reassemble the exact file.

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::byteranges::parse_content_range;
use crate::support::bytes::tagged;
use crate::support::http;
use crate::support::library::MUSIC_DIR_NAME;
use crate::support::media::{Format, encoded};
use crate::support::{Launch, Library, TestServer, assert_same_bytes, run};

/// Where Debian and Ubuntu install nginx (CI installs it).
const NGINX: &str = "/usr/sbin/nginx";
/// How long nginx may take to accept connections.
const NGINX_STARTUP: Duration = Duration::from_secs(10);

/// nginx in the foreground, single process, with everything it writes in a temp dir.
/// Dropping it kills it and, if the test is failing, prints its error log.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx proxying to `upstreams` round-robin, on a free loopback port.
    fn start(upstreams: &[SocketAddr]) -> Nginx {
        let dir = tempfile::Builder::new().prefix("tapedeck-nginx-").tempdir().expect("temp dir");
        let addr = free_port();
        let conf = nginx_conf(dir.path(), addr, upstreams);
        fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            // Where it logs before reading its config (the default may not be writable).
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start `{NGINX}`: {e}"));
        let mut nginx = Nginx { child, addr, dir };
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited with {status}:\n{}", nginx.error_log());
            }
            assert!(
                started.elapsed() < NGINX_STARTUP,
                "nginx not listening on {addr} after {NGINX_STARTUP:?}:\n{}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- nginx error log ----\n{}\n---- end ----", self.error_log());
        }
    }
}

/// A loopback address nobody listens on right now.
fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr")
}

/// A plain reverse-proxy config: an `upstream` of the replicas (round-robin by default) and
/// no `keepalive` in it, so each request opens a new upstream connection and goes to the
/// next replica. Every path nginx writes is under `prefix`.
fn nginx_conf(prefix: &Path, listen: SocketAddr, upstreams: &[SocketAddr]) -> String {
    let prefix = prefix.display();
    let mut servers = String::new();
    for upstream in upstreams {
        let _ = writeln!(servers, "        server {upstream};");
    }
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream tapedeck {{
{servers}    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://tapedeck;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection \"\";
        }}
    }}
}}
"
    )
}

/// Requests answered by a replica with `status`, from its admin listener's metrics (none
/// yet is 0).
fn served(replica: &TestServer, status: &str) -> f64 {
    let labels = [("tenant", "default"), ("status", status)];
    replica.metrics().value_or_zero("tapedeck_requests_total", &labels)
}

#[test]
fn range_requests_through_nginx_alternate_between_two_replicas_and_reassemble_the_file() {
    const LEN: usize = 2 << 20;
    const RANGE: usize = 256 << 10;
    let library = Library::empty();
    let file = tagged("two replicas", LEN);
    library.add("two-replicas.mp3", &file);
    let first = Launch::library(library).args(["--admin-listen", "127.0.0.1:0"]).start();
    let second = Launch::music_dir(first.library().music_dir())
        .args(["--admin-listen", "127.0.0.1:0"])
        .start();
    let replicas = [&first, &second];
    let nginx = Nginx::start(&[first.addr(), second.addr()]);

    let health = http::request(nginx.addr, "GET", "/health", &[], None);
    assert_eq!(health.status, 200, "/health through nginx: {}", health.summary());

    // Consecutive ranges, as a player reads a file; from the second on, each carries the
    // first one's ETag in If-Range, so a replica that disagreed would answer 200.
    let mut reassembled = Vec::with_capacity(LEN);
    let mut etag: Option<String> = None;
    let before: Vec<f64> = replicas.iter().map(|r| served(r, "206")).collect();
    for start in (0..LEN).step_by(RANGE) {
        let end = (start + RANGE).min(LEN) - 1;
        let range = format!("bytes={start}-{end}");
        let mut headers = vec![("Range", range.as_str())];
        if let Some(etag) = &etag {
            headers.push(("If-Range", etag.as_str()));
        }
        let response = http::request(nginx.addr, "GET", "/stream/two-replicas.mp3", &headers, None);
        assert_eq!(response.status, 206, "{range} through nginx: {}", response.summary());
        let content_range = response.expect_header("content-range");
        assert_eq!(
            parse_content_range(&content_range),
            Ok((start as u64, end as u64, LEN as u64)),
            "{range}: Content-Range"
        );
        let this_etag = response.expect_header("etag");
        match &etag {
            Some(first) => assert_eq!(&this_etag, first, "{range}: ETag"),
            None => etag = Some(this_etag),
        }
        reassembled.extend_from_slice(&response.body);
    }
    assert_same_bytes(&reassembled, &file, "the ranges reassembled");

    // A response is counted (and logged) when its body is done, which may be a moment
    // after the client has read it.
    let ranges = LEN.div_ceil(RANGE) as f64;
    let deadline = Instant::now() + Duration::from_secs(2);
    let per_replica = loop {
        let counts: Vec<f64> =
            replicas.iter().zip(&before).map(|(r, before)| served(r, "206") - before).collect();
        if counts.iter().sum::<f64>() >= ranges || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("{ranges} ranges through nginx: {per_replica:?} per replica");
    assert_eq!(per_replica.iter().sum::<f64>(), ranges, "206s counted by the replicas");
    assert!(
        per_replica.iter().all(|&n| n >= 1.0),
        "one replica served every range: {per_replica:?}"
    );
    // Each replica's log has a line for each range it served (logs are written in
    // batches, a moment later).
    for (replica, &count) in replicas.iter().zip(&per_replica) {
        let is_range = |line: &str| line.contains("path=/stream/two-replicas.mp3 status=206");
        replica.wait_for_log(count as usize, Duration::from_secs(2), is_range);
        let lines = replica.log_lines().iter().filter(|line| is_range(line)).count();
        assert_eq!(lines as f64, count, "log lines of 206s on {}", replica.addr());
    }
}

#[test]
fn replicas_give_identical_etag_and_last_modified_for_the_same_file() {
    let library = Library::empty();
    library.add("song.mp3", &encoded(Format::Mp3));
    library.add("tone.flac", &encoded(Format::Flac));
    library.add("tone.wv", &encoded(Format::Wv));
    // An mtime with nanoseconds: a validator that rounds differently per process shows.
    library.set_mtime("tone.flac", Duration::from_nanos(123_456_789));
    // A copy of the library with the same bytes and mtimes, as rsync -a or an image layer
    // gives each replica its own disk.
    let copy = tempfile::Builder::new().prefix("tapedeck-replica-").tempdir().expect("temp dir");
    run(Command::new("cp").arg("-a").arg(library.music_dir()).arg(copy.path()));

    let first = TestServer::start(library);
    let replicas = [
        Launch::music_dir(first.library().music_dir()).start(),
        Launch::music_dir(&copy.path().join(MUSIC_DIR_NAME)).start(),
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
