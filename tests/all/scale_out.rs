//! Scale-out past one machine (issue 6): two tapedeck replicas over the same music dir
//! behind nginx on loopback, round-robin, no upstream keepalive. A client's consecutive
//! range requests alternate between the replicas and reassemble the exact file.

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http::{self, parse_content_range};
use crate::support::library::pattern;
use crate::support::{Launch, Library, TestServer, assert_same_bytes};

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

/// Requests answered by a replica with `status`, from its admin listener's metrics.
fn served(replica: &TestServer, status: &str) -> f64 {
    replica.metrics().value("tapedeck_requests_total", &[("tenant", "default"), ("status", status)])
}

#[test]
fn range_requests_through_nginx_alternate_between_two_replicas_and_reassemble_the_file() {
    const LEN: usize = 2 << 20;
    const RANGE: usize = 256 << 10;
    let library = Library::empty();
    let mut file = b"ID3 two replicas ".to_vec();
    file.extend(pattern(LEN - file.len()));
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
        assert_eq!(etag.get_or_insert(this_etag.clone()), &this_etag, "{range}: ETag");
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
