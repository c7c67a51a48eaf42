//! `TestServer`: the real `tapedeck` binary on an ephemeral port, started from a temporary
//! library (the one-tenant flags) or from a config file, with any extra arguments and
//! environment; and `Launch`, which says how.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::{self, Response};
use super::library::Library;
use super::metrics::Scrape;

/// How long the server may take from spawn to its `listening on` line (it compiles the guest).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Environment variables `tapedeck serve` reads (clap's `env`): a test's server must not
/// pick them up from the environment the tests run in.
const SERVER_ENV: &[&str] =
    &["MUSIC_DIR", "TAPEDECK_LISTEN", "TAPEDECK_MAX_DECODERS", "TAPEDECK_REQUEST_TIMEOUT"];

/// How to start a `tapedeck serve`: its arguments, its environment, and the library it owns.
pub struct Launch {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    library: Option<Library>,
}

impl Launch {
    /// The one-tenant flags serving `library` on an ephemeral port, with the embedded guest.
    pub fn library(library: Library) -> Launch {
        let mut launch = Launch::music_dir(library.music_dir());
        launch.library = Some(library);
        launch
    }

    /// The one-tenant flags serving `dir`, which the caller keeps alive (a second replica of
    /// a library another server owns, say).
    pub fn music_dir(dir: &Path) -> Launch {
        Launch { args: Vec::new(), env: Vec::new(), library: None }
            .arg("--music-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
    }

    /// `--config FILE`; the caller keeps the file and the folders it names alive.
    pub fn config(path: &Path) -> Launch {
        Launch { args: Vec::new(), env: Vec::new(), library: None }.arg("--config").arg(path)
    }

    /// One more argument after `serve`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments after `serve`.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Launch {
        self.args.extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// An environment variable for the server.
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.env.push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// `tapedeck serve` with these arguments and environment, not yet spawned.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tapedeck"));
        command.arg("serve").args(&self.args);
        for name in SERVER_ENV {
            command.env_remove(name);
        }
        command
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            // Something for a guest to find if the sandbox leaked the host's environment.
            .env("TAPEDECK_TEST_CANARY", "host-environment-leaked")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Spawns the server and waits for its `listening on http://ADDR/` line.
    pub fn start(self) -> TestServer {
        let mut child = self.command().spawn().expect("failed to spawn the tapedeck binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let addrs = Arc::new(Mutex::new(Listeners::default()));
        let stderr = child.stderr.take().expect("piped stderr");
        let (stderr_log, stderr_addrs) = (Arc::clone(&log), Arc::clone(&addrs));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                stderr_addrs.lock().unwrap().note(&line);
                stderr_log.lock().unwrap().push(line);
            }
            stderr_addrs.lock().unwrap().closed = true;
        });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let stdout_log = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            stdout_log.lock().unwrap().extend(text.lines().map(|l| format!("[stdout] {l}")));
        });

        let mut server = TestServer {
            child: Some(child),
            addr: "0.0.0.0:0".parse().unwrap(),
            listeners: addrs,
            log,
            library: self.library,
            args: self.args,
        };
        match server.wait_for_listener(|listeners| listeners.public) {
            Some(addr) => server.addr = addr,
            None => {
                let status = server.child.as_mut().unwrap().try_wait().ok().flatten();
                panic!(
                    "tapedeck {:?} printed no `listening on http://ADDR/` line (exit status: \
                     {status:?}); it logged:\n{}",
                    server.args,
                    server.log_text()
                );
            }
        }
        server
    }

    /// Runs a server that must refuse to start: returns its exit status, its stderr and
    /// how long it took, or panics if it is still running after `limit`.
    pub fn expect_refusal(self, limit: Duration) -> Refusal {
        let started = Instant::now();
        let mut child = self
            .command()
            .stdout(Stdio::null())
            .spawn()
            .expect("failed to spawn the tapedeck binary");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for tapedeck") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "tapedeck {:?} still running {limit:?} after it started; it logged:\n{}",
                    self.args,
                    reader.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Refusal { status, stderr: reader.join().unwrap_or_default(), elapsed: started.elapsed() }
    }
}

/// How a server that refused to start ended.
#[derive(Debug)]
pub struct Refusal {
    pub status: ExitStatus,
    pub stderr: String,
    pub elapsed: Duration,
}

/// The listener addresses a server has logged so far.
#[derive(Default)]
struct Listeners {
    public: Option<SocketAddr>,
    admin: Option<SocketAddr>,
    /// The server's stderr has ended: no more lines will come.
    closed: bool,
}

impl Listeners {
    fn note(&mut self, line: &str) {
        let Some(addr) = listening_addr(line) else { return };
        if line.contains("admin listening on") {
            self.admin.get_or_insert(addr);
        } else {
            self.public.get_or_insert(addr);
        }
    }
}

/// A running `tapedeck serve`. Dropping it kills the process and, if the test is failing,
/// prints everything the server logged.
pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    listeners: Arc<Mutex<Listeners>>,
    log: Arc<Mutex<Vec<String>>>,
    library: Option<Library>,
    args: Vec<OsString>,
}

impl TestServer {
    /// Serves `library` with the embedded guest.
    pub fn start(library: Library) -> TestServer {
        Launch::library(library).start()
    }

    /// Serves `library` with the guest component at `guest` instead of the embedded one.
    pub fn start_with_guest(library: Library, guest: &Path) -> TestServer {
        Launch::library(library).arg("--guest").arg(guest).start()
    }

    /// Serves `library` with extra flags and environment variables.
    pub fn start_with(library: Library, args: &[&str], env: &[(&str, &OsStr)]) -> TestServer {
        let mut launch = Launch::library(library).args(args);
        for (name, value) in env {
            launch = launch.env(name, value);
        }
        launch.start()
    }

    /// Serves the tenants of the config file at `path`.
    pub fn start_config(path: &Path) -> TestServer {
        Launch::config(path).start()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's address, from its `admin listening on http://ADDR/` line (which
    /// follows the public one); panics if the server has none.
    #[track_caller]
    pub fn admin_addr(&self) -> SocketAddr {
        self.wait_for_listener(|listeners| listeners.admin).unwrap_or_else(|| {
            panic!("tapedeck logged no `admin listening on` line:\n{}", self.log_text())
        })
    }

    fn wait_for_listener(
        &self,
        which: impl Fn(&Listeners) -> Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            {
                let listeners = self.listeners.lock().unwrap();
                if let Some(addr) = which(&listeners) {
                    return Some(addr);
                }
                if listeners.closed {
                    return None;
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The library the server was started with (flag mode only).
    #[track_caller]
    pub fn library(&self) -> &Library {
        self.library.as_ref().expect("this server was not started from a `Library`")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Sends the signal `name` (`TERM`, `HUP`, ...) to the server.
    #[track_caller]
    pub fn signal(&self, name: &str) {
        let sent =
            Command::new("kill").arg(format!("-{name}")).arg(self.pid().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "failed to send SIG{name}");
    }

    /// `GET target` with extra `headers`; the response must end where its framing says.
    #[track_caller]
    pub fn get(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", target, headers)
    }

    /// `HEAD target`; any body byte after the head shows up in `trailing` and fails.
    #[track_caller]
    pub fn head(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request("HEAD", target, headers)
    }

    /// `GET target`, then `HEAD target` with the same headers; asserts the HEAD got the GET's
    /// status and headers and no body. Returns the GET.
    #[track_caller]
    pub fn get_and_head(&self, target: &str, headers: &[(&str, &str)], what: &str) -> Response {
        let get = self.get(target, headers);
        let head = self.head(target, headers);
        super::assert_head_matches_get(&head, &get, what);
        get
    }

    /// A bodiless request with any method.
    #[track_caller]
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request_with_body(method, target, headers, None)
    }

    #[track_caller]
    pub fn request_with_body(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        checked(method, target, http::request(self.addr, method, target, headers, body))
    }

    /// `GET target` with `Host: host` (which tenant a request reaches).
    #[track_caller]
    pub fn get_from(&self, host: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        let response = http::request_to(self.addr, host, "GET", target, headers, None);
        checked("GET", target, response)
    }

    /// A request to the admin listener.
    #[track_caller]
    pub fn admin(&self, method: &str, target: &str) -> Response {
        checked(method, target, http::request(self.admin_addr(), method, target, &[], None))
    }

    /// `GET /metrics` from the admin listener, parsed.
    #[track_caller]
    pub fn metrics(&self) -> Scrape {
        let response = self.admin("GET", "/metrics");
        assert_eq!(response.status, 200, "GET /metrics: {}", response.summary());
        Scrape::parse(&response.text())
    }

    /// `GET /stream/<rel>`, with `rel` percent-encoded.
    #[track_caller]
    pub fn stream(&self, rel: &str, headers: &[(&str, &str)]) -> Response {
        self.get(&stream_url(rel), headers)
    }

    /// Sends hand-written request bytes and returns everything received until the server
    /// closes the connection (include `Connection: close`).
    pub fn raw(&self, bytes: &[u8]) -> String {
        String::from_utf8_lossy(&http::exchange(self.addr, bytes)).into_owned()
    }

    /// Asserts the server still answers: `GET /health` is 200.
    #[track_caller]
    pub fn assert_alive(&self) {
        let health = self.get("/health", &[]);
        assert_eq!(health.status, 200, "the server stopped serving: {}", health.summary());
    }

    /// Everything the server has logged so far, one line each.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `limit` for the server to have logged `count` lines matching `matches`;
    /// returns whether it did.
    pub fn wait_for_log(
        &self,
        count: usize,
        limit: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.log.lock().unwrap().iter().filter(|line| matches(line)).count() >= count {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends SIGTERM and asserts that the server exits cleanly within the grace period.
    pub fn finish(mut self) {
        self.signal("TERM");
        let status = self.wait_exit(SHUTDOWN_TIMEOUT);
        assert!(
            status.success(),
            "tapedeck exited with {status} after SIGTERM; it logged:\n{}",
            self.log_text()
        );
    }

    /// Waits up to `limit` for the server to exit; panics if it does not.
    #[track_caller]
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("server still running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("wait for tapedeck") {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "tapedeck still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's log so far, one string.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// `/stream/<rel>` with `rel` percent-encoded.
pub fn stream_url(rel: &str) -> String {
    format!("/stream/{}", http::pct_path(rel))
}

#[track_caller]
fn checked(method: &str, target: &str, response: Response) -> Response {
    assert!(
        response.trailing.is_empty(),
        "{method} {target}: {} bytes after the end of the response ({}): {:?}",
        response.trailing.len(),
        response.summary(),
        http::lossy(&response.trailing, 200),
    );
    response
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            // Let the reader threads collect the last lines.
            std::thread::sleep(Duration::from_millis(50));
            eprintln!(
                "---- tapedeck log ({}) ----\n{}\n---- end of log ----",
                self.addr,
                self.log_text()
            );
        }
    }
}

/// The address in a `... listening on http://127.0.0.1:PORT/ ...` line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, after) = line.split_once("listening on http://")?;
    let authority = after.split(['/', ' ']).next()?;
    authority.parse().ok()
}
