//! A guest's limits: its memory, its CPU time in wasm, and the limit that stopped a
//! request.

use std::time::Duration;

use http::StatusCode;
use wasmtime::{CallHook, ResourceLimiter};

use super::engine;

/// The tenant's memory limit for one guest, remembering whether the guest hit it.
pub(super) struct MemoryCap {
    pub(super) limit: usize,
    pub(super) hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }

    fn instances(&self) -> usize {
        engine::CORE_INSTANCES_PER_GUEST as usize
    }

    fn tables(&self) -> usize {
        engine::TABLES_PER_GUEST as usize
    }

    fn memories(&self) -> usize {
        engine::MEMORIES_PER_GUEST as usize
    }
}

/// Time spent running wasm, measured at every crossing between wasm and the host:
/// a guest blocked in a host call (splicing a slow stream) is not using the CPU.
/// It counts epoch ticks, not nanoseconds: a crossing costs a load instead of a
/// clock read, and a burst of wasm counts a tick as often as it spans one, which
/// over many bursts adds up to the time spent.
#[derive(Default)]
pub(super) struct CpuMeter {
    used_ticks: u64,
    running_since: Option<u64>,
}

impl CpuMeter {
    pub(super) fn crossing(&mut self, hook: CallHook) {
        let now = engine::ticks();
        if hook.entering_host() {
            if let Some(since) = self.running_since.take() {
                self.used_ticks += now - since;
            }
        } else {
            self.running_since = Some(now);
        }
    }

    pub(super) fn used(&self) -> Duration {
        let running = self.running_since.map_or(0, |since| engine::ticks() - since);
        let ticks = u32::try_from(self.used_ticks + running).unwrap_or(u32::MAX);
        engine::EPOCH_TICK.saturating_mul(ticks)
    }
}

/// A tenant limit that stopped a request.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    Cpu,
    Memory,
    Timeout,
    /// The guest took longer than its wall-clock budget to answer.
    Wall,
    /// All of the tenant's instance places were taken.
    Instances,
}

impl Limit {
    pub(super) fn name(self) -> &'static str {
        match self {
            Limit::Cpu => "cpu",
            Limit::Memory => "memory",
            Limit::Timeout => "timeout",
            Limit::Wall => "wall",
            Limit::Instances => "instances",
        }
    }

    pub(super) fn message(self) -> &'static str {
        match self {
            Limit::Cpu => "The request used up its CPU budget",
            Limit::Memory => "The request used up its memory limit",
            Limit::Timeout => "The request timed out",
            Limit::Wall => "The guest took too long to answer",
            Limit::Instances => "All of this tenant's guest instances are busy",
        }
    }
}

/// Why a guest gave no response, and which limit stopped it, if one did.
pub(super) struct Failure {
    pub(super) limit: Option<Limit>,
    pub(super) error: anyhow::Error,
}

impl Failure {
    pub(super) fn internal(error: anyhow::Error) -> Self {
        Self { limit: None, error }
    }
}

/// What the client is told when its request's guest gave no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// 503 for a limit, 500 for a trap.
    pub status: StatusCode,
    /// A fixed message naming the limit, never the guest's error.
    pub message: &'static str,
}

impl Refusal {
    pub(super) fn of(limit: Option<Limit>) -> Self {
        match limit {
            Some(limit) => {
                Self { status: StatusCode::SERVICE_UNAVAILABLE, message: limit.message() }
            }
            None => Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: "Server error" },
        }
    }
}
