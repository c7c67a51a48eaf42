//! The one wasmtime engine all tenants share: compiler settings, the pooling
//! allocator, the on-disk cache of compiled guests, and the epoch clock.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use wasmtime::{
    Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy,
    PoolingAllocationConfig,
};

/// How often the epoch ticks: how often a running guest checks its CPU budget and
/// yields its thread, so a spinning guest delays its neighbours by about this much,
/// the order of the kernel's own time slice. Every tick wakes a thread, which is not
/// free on a busy machine: under small range requests the ticker used 2.9 µs of CPU
/// per request at 1 ms (2 % of a request), 0.7 µs at 4 ms.
pub const EPOCH_TICK: Duration = Duration::from_millis(4);
/// Bytes of each pooled memory reset in place instead of decommitted: the whole
/// of tapedeck's guest, which is one 64 KiB wasm page (see `guest/build.rs`).
const MEMORY_KEEP_RESIDENT: usize = 64 << 10;
/// Bytes of each pooled table and stack reset in place instead of decommitted.
const KEEP_RESIDENT: usize = 1 << 20;
/// Slots whose remaining pages are decommitted together.
const DECOMMIT_BATCH: usize = 32;
/// Guest instances that may exist at once, across tenants (the pool's slots).
const MAX_INSTANCES: u32 = 1000;

/// Epoch ticks so far: a clock far cheaper to read than the system's, for timing
/// every crossing between wasm and the host.
static TICKS: AtomicU64 = AtomicU64::new(0);

/// An engine with epoch interruption, a compiled-code cache (keyed by the guest's
/// content hash and the compiler settings, so restarts skip compilation) and, where
/// the machine allows it, the pooling allocator (instantiation is then a few page
/// resets). Its epoch ticks until the process ends.
pub fn new(cache_dir: Option<&Path>) -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let mut cache = CacheConfig::new();
    if let Some(dir) = cache_dir {
        cache.with_directory(dir);
    }
    match Cache::new(cache) {
        Ok(cache) => _ = config.cache(Some(cache)),
        Err(error) => tracing::warn!(%error, "no compiled-guest cache"),
    }
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 4)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 4)
        .total_stacks(MAX_INSTANCES)
        // Resetting a slot with madvise costs a TLB shootdown on every core per
        // request (the top of a profile of small range requests): what a guest
        // usually touches is zeroed in place instead, and the rest decommitted in
        // batches. Zeroing a 64 KiB memory whole costs less than the PAGEMAP_SCAN
        // ioctl that would find the few pages the guest dirtied.
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(Enabled::No)
        .decommit_batch_size(DECOMMIT_BATCH);
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let engine = match Engine::new(&pooled) {
        Ok(engine) => engine,
        Err(error) => {
            tracing::warn!(%error, "pooling allocator unavailable, allocating on demand");
            Engine::new(&config)
                .map_err(anyhow::Error::from)
                .context("failed to create the wasm engine")?
        }
    };
    let ticking = engine.clone();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                ticking.increment_epoch();
                TICKS.fetch_add(1, Ordering::Relaxed);
            }
        })
        .context("failed to spawn the epoch ticker thread")?;
    Ok(engine)
}

/// Epoch ticks since the engine started (each [`EPOCH_TICK`] or a little more).
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
