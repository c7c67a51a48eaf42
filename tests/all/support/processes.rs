//! What a running server holds, read from `/proc`: its memory, its child processes
//! (decoders, and zombies if it fails to reap them) and its open file descriptors.

use std::fs;
use std::time::{Duration, Instant};

use super::server::TestServer;

impl TestServer {
    /// The server's peak resident memory so far (`VmHWM` of `/proc/PID/status`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    /// The server's resident memory now (`VmRSS`), in bytes.
    pub fn rss(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// The `field` line of `/proc/PID/status`, given in kB there, in bytes.
    fn status_bytes(&self, field: &str) -> u64 {
        let status =
            fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in /proc status"));
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad {field} line `{line}`"));
        kib * 1024
    }

    /// The server's child processes: `(pid, name, state)` from `/proc/*/status`.
    pub fn children(&self) -> Vec<(u32, String, String)> {
        let parent = self.pid().to_string();
        let mut children = Vec::new();
        for entry in fs::read_dir("/proc").expect("/proc").map_while(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            // A process may exit between the listing and the read.
            let Ok(status) = fs::read_to_string(entry.path().join("status")) else { continue };
            let field = |name: &str| {
                status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned())
            };
            if field("PPid:").as_deref() == Some(parent.as_str()) {
                children.push((
                    pid,
                    field("Name:").unwrap_or_default(),
                    field("State:").unwrap_or_default(),
                ));
            }
        }
        children
    }

    /// What the server's open file descriptors point at.
    pub fn fds(&self) -> Vec<String> {
        let dir = format!("/proc/{}/fd", self.pid());
        fs::read_dir(&dir)
            .expect("/proc/PID/fd")
            .map_while(Result::ok)
            .map(|fd| {
                fs::read_link(fd.path())
                    .map_or_else(|e| format!("? {e}"), |p| p.display().to_string())
            })
            .collect()
    }

    /// Polls for up to `limit` until the server has no child process and at most
    /// `max_fds` descriptors; says what is left otherwise. The server sees no request
    /// meanwhile: its activity could clean up what idling leaves.
    pub fn settles(&self, max_fds: usize, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let (children, fds) = (self.children(), self.fds());
            if children.is_empty() && fds.len() <= max_fds {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{limit:?} later the server still has {} child processes \
                     (pid, name, state) {children:?} and {} open fds (at most {max_fds} \
                     expected): {fds:?}",
                    children.len(),
                    fds.len()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[track_caller]
    pub fn assert_settles(&self, max_fds: usize, limit: Duration, what: &str) {
        if let Err(left) = self.settles(max_fds, limit) {
            panic!("{what}: {left}");
        }
    }
}
