//! Logs to stderr through `tracing`, written in batches.
//!
//! A line per request is the access log. Writing each line as it is made cost a
//! syscall per request, and handing each to a writer thread (`tracing-appender`)
//! cost a thread wake-up per request, about a tenth of the CPU of small range
//! requests. Instead lines collect in memory and go out together: every
//! [`FLUSH_EVERY`], when [`BATCH_BYTES`] have gathered, and at exit.
//!
//! The access log line itself skips `tracing`'s formatter (see [`access`]).

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The longest a line waits before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Lines gathered that are written at once, without waiting for the interval.
const BATCH_BYTES: usize = 64 * 1024;

/// Where every line gathers until it is written.
static BATCH: Batch = Batch { gathered: Mutex::new(Vec::new()), writing: Mutex::new(()) };

/// Starts logging; `RUST_LOG` filters (default `info`). Keep the returned guard
/// alive until exit: dropping it writes the lines not yet written.
pub fn init() -> Flush {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Without the thread lines still go out, at BATCH_BYTES and at exit.
    _ = std::thread::Builder::new().name("log-flush".into()).spawn(|| {
        loop {
            std::thread::sleep(FLUSH_EVERY);
            BATCH.write_out();
        }
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(|| &BATCH)
        .init();
    Flush
}

/// Whether the access log is on: `RUST_LOG=info,tapedeck::access=off` turns it off.
pub fn access_enabled() -> bool {
    tracing::enabled!(target: "tapedeck::access", tracing::Level::INFO)
}

/// Writes an access log line (target `tapedeck::access`, INFO), formatted as
/// `tracing` formats one, straight into the batch. It is written for every request,
/// and `tracing`'s formatter (a visitor per field, escaping, a writer behind `dyn`)
/// cost three times as much. Callers check [`access_enabled`] first.
pub fn access(message: fmt::Arguments<'_>) {
    let now = humantime::format_rfc3339_micros(SystemTime::now());
    let mut line = Vec::with_capacity(192);
    _ = writeln!(line, "{now}  INFO tapedeck::access: {message}");
    _ = (&BATCH).write(&line);
}

/// Writes the lines still gathered when dropped.
pub struct Flush;

impl Drop for Flush {
    fn drop(&mut self) {
        flush();
    }
}

/// Writes the lines gathered so far, before an exit that skips destructors.
pub fn flush() {
    BATCH.write_out();
}

/// Log lines not yet written to stderr.
struct Batch {
    gathered: Mutex<Vec<u8>>,
    /// Held while a batch is written, so batches reach stderr in the order taken.
    writing: Mutex<()>,
}

impl Batch {
    /// Writes what has gathered.
    fn write_out(&self) {
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let lines = std::mem::take(&mut *self.gathered.lock().unwrap());
        if !lines.is_empty() {
            // Nowhere to report a failure to log.
            _ = io::stderr().write_all(&lines);
        }
    }
}

impl Write for &Batch {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let full = {
            let mut gathered = self.gathered.lock().unwrap();
            gathered.extend_from_slice(line);
            gathered.len() >= BATCH_BYTES
        };
        if full {
            self.write_out();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
