//! The one wasmtime engine all tenants share: compiler settings, the pooling
//! allocator, the on-disk cache of compiled guests, and the epoch clock.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::INSTANCE_SLOTS;
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
/// Slots whose remaining pages are decommitted together: one, so that a guest that grew
/// its memory to the limit gives it back when its request ends. Batches of 32 let 32
/// such instances stay resident (2 GiB at the 64 MiB default), a hostile guest's easy
/// way to hold host memory; tapedeck's stream guest never grows past what stays
/// resident, so it has nothing to decommit either way.
const DECOMMIT_BATCH: usize = 1;

/// Core instances one guest may create: a Rust component needs three or four. The
/// pool holds this many per instance slot, so a tenant's reserved slots are whole.
pub const CORE_INSTANCES_PER_GUEST: u32 = 8;
/// Linear memories one guest may create.
pub const MEMORIES_PER_GUEST: u32 = 2;
/// Tables one guest may create.
pub const TABLES_PER_GUEST: u32 = 8;

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
        check_cache_dir(dir)?;
        cache.with_directory(dir);
    }
    match Cache::new(cache) {
        Ok(cache) => _ = config.cache(Some(cache)),
        Err(error) => tracing::warn!(%error, "no compiled-guest cache"),
    }
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(INSTANCE_SLOTS)
        .total_core_instances(INSTANCE_SLOTS * CORE_INSTANCES_PER_GUEST)
        .total_memories(INSTANCE_SLOTS * MEMORIES_PER_GUEST)
        .total_tables(INSTANCE_SLOTS * TABLES_PER_GUEST)
        .total_stacks(INSTANCE_SLOTS)
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

/// Refuses a compiled-code cache that anyone but this user could write: the host runs
/// what it loads from there as native code.
fn check_cache_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("failed to create the cache dir `{}`", dir.display()))?;
    }
    let metadata = std::fs::metadata(dir)
        .with_context(|| format!("failed to read the cache dir `{}`", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me || metadata.mode() & 0o022 != 0 {
        anyhow::bail!(
            "the cache dir `{}` must belong to uid {me} and be writable by it alone \
             (compiled guests there run as native code)",
            dir.display()
        );
    }
    Ok(())
}

/// Epoch ticks since the engine started (each [`EPOCH_TICK`] or a little more).
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}
