//! `/sleep` and `/fifo-probe`: a guest that tries to hold the host up rather than use it up,
//! by waiting inside a host call (which the CPU limit does not count) or by handing the host
//! a file whose open or read waits for ever.

use wasip2::clocks::monotonic_clock;
use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

use crate::json::{self, Object};
use crate::tapedeck::tapedeck::server::transcode::{self, Codec};

/// Nanoseconds in a millisecond, for the monotonic clock.
const NANOS_PER_MILLI: u64 = 1_000_000;

/// Blocks on `wasi:clocks/monotonic-clock` for `ms` milliseconds (default 1000) and renders
/// how long it really waited: only a wall-clock limit on the guest stops it early.
pub fn sleep(ms: Option<u16>) -> String {
    let started = monotonic_clock::now();
    monotonic_clock::subscribe_duration(u64::from(ms.unwrap_or(1000)) * NANOS_PER_MILLI).block();
    let slept = (monotonic_clock::now() - started) / NANOS_PER_MILLI;
    Object::new().raw("slept_ms", slept.to_string()).finish()
}

/// Opens `path` in the music dir (a FIFO the test made there: the open must not wait for a
/// writer) and asks the host to probe it as WavPack (`.wv`) or WMA (anything else), which
/// would have the host reopen it or hand it to a decoder. Renders
/// `{"open": "ok:<type>"|"err:…", "probe": "ok:…"|"err:…"}`, if the host lets it answer.
pub fn fifo_probe(path: &str) -> String {
    let Some((dir, _)) = get_directories().into_iter().next() else {
        return Object::new().string("open", "err:no preopen").finish();
    };
    let file =
        match dir.open_at(PathFlags::empty(), path, OpenFlags::empty(), DescriptorFlags::READ) {
            Ok(file) => file,
            Err(e) => return Object::new().string("open", &format!("err:{}", e.name())).finish(),
        };
    let kind = json::outcome(file.get_type(), |kind| format!("{kind:?}"));
    let codec = if path.ends_with(".wv") { Codec::Wavpack } else { Codec::Wma };
    let probe = json::outcome(transcode::probe(&file, codec), |format| format!("{format:?}"));
    Object::new().string("open", &kind).string("probe", &probe).finish()
}
