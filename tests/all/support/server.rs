//! `TestServer`: the real `tapedeck` binary serving a temporary library on an ephemeral port.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::{self, Response};
use super::library::Library;

/// How long the server may take from spawn to its `listening on` line (it compiles the guest).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `tapedeck serve`. Dropping it kills the process and, if the test is failing,
/// prints everything the server logged.
pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    library: Library,
}

impl TestServer {
    /// Serves `library` with the embedded guest.
    pub fn start(library: Library) -> TestServer {
        Self::spawn(library, None)
    }

    /// Serves `library` with the guest component at `guest` instead of the embedded one.
    pub fn start_with_guest(library: Library, guest: &Path) -> TestServer {
        Self::spawn(library, Some(guest))
    }

    fn spawn(library: Library, guest: Option<&Path>) -> TestServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tapedeck"));
        command
            .arg("serve")
            .arg("--music-dir")
            .arg(library.music_dir())
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("MUSIC_DIR")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            // Something for a guest to find if the sandbox leaked the host's environment.
            .env("TAPEDECK_TEST_CANARY", "host-environment-leaked")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(guest) = guest {
            command.arg("--guest").arg(guest);
        }
        let mut child = command.spawn().expect("failed to spawn the tapedeck binary");

        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_sender, addr_receiver) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr_log = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut addr_sender = Some(addr_sender);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line)
                    && let Some(sender) = addr_sender.take()
                {
                    let _ = sender.send(addr);
                }
                stderr_log.lock().unwrap().push(line);
            }
        });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let stdout_log = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            stdout_log.lock().unwrap().extend(text.lines().map(|l| format!("[stdout] {l}")));
        });

        let mut server =
            TestServer { child: Some(child), addr: "0.0.0.0:0".parse().unwrap(), log, library };
        match addr_receiver.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => server.addr = addr,
            Err(_) => {
                let status = server.child.as_mut().unwrap().try_wait().ok().flatten();
                panic!(
                    "tapedeck printed no `listening on http://ADDR/` line (exit status: {status:?}); it logged:\n{}",
                    server.log_text()
                );
            }
        }
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn library(&self) -> &Library {
        &self.library
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
        let response = http::request(self.addr, method, target, headers, body);
        assert!(
            response.trailing.is_empty(),
            "{method} {target}: {} bytes after the end of the response ({}): {:?}",
            response.trailing.len(),
            response.summary(),
            http::lossy(&response.trailing, 200),
        );
        response
    }

    /// `GET /stream/<rel>`, with `rel` percent-encoded.
    #[track_caller]
    pub fn stream(&self, rel: &str, headers: &[(&str, &str)]) -> Response {
        self.get(&format!("/stream/{}", http::pct_path(rel)), headers)
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

    /// The server's peak resident memory so far (`VmHWM` of `/proc/PID/status`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("server running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc status");
        let kib: u64 =
            line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmHWM value");
        kib * 1024
    }

    /// Everything the server has logged so far, one line each.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and asserts that the server exits cleanly within the grace period.
    pub fn finish(mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "tapedeck exited with {status} after SIGTERM; it logged:\n{}",
            self.log_text()
        );
    }

    fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("server still running");
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "failed to send SIGTERM");
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for tapedeck") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tapedeck still running {SHUTDOWN_TIMEOUT:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
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
