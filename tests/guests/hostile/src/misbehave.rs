//! `/trap`, `/spin` and `/alloc`: a guest that fails in each way a host must survive;
//! `/count`: a guest that would carry state from one request to the next.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests this instance has handled, this one included: 1 unless an instance
/// serves more than one request.
pub fn count() -> String {
    static HANDLED: AtomicU64 = AtomicU64::new(0);
    let handled = HANDLED.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{{\"handled\":{handled}}}")
}

/// Panics before responding: the host must answer 500 for this request only.
pub fn trap() -> String {
    panic!("hostile guest: deliberate trap");
}

/// Never returns: only a per-request deadline (epoch interruption) stops it.
pub fn spin() -> String {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches chunks of `chunk_mib` MiB (default 64) until the host's memory limit
/// (or wasm32's 4 GiB) stops it; the allocation failure aborts, which is a trap. Small chunks
/// fill memory right up to the limit before failing.
pub fn alloc(chunk_mib: Option<u16>) -> String {
    let chunk_len = usize::from(chunk_mib.unwrap_or(64).max(1)) << 20;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(chunk_len);
        // Write every byte so the memory is really committed, not just reserved.
        chunk.resize(chunk_len, 0xA5u8);
        chunks.push(black_box(chunk));
    }
}
