//! A tenant's decoder processes: how many may run, what they are counted in, and the file
//! they read.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::filesystem::Descriptor;

use super::bindings::tapedeck::server::transcode::TranscodeError;
use crate::config::Limits;
use crate::metrics::TenantMetrics;

/// A tenant's decoders: how many may run, and what they are counted in.
pub struct Transcoder {
    permits: Arc<Semaphore>,
    /// The tenant's limits, for how its transcodes are paced and capped.
    pub limits: Limits,
    metrics: TenantMetrics,
}

impl Transcoder {
    /// A transcoder that runs at most `max_decoders` decoder processes at once.
    /// A transcoder that runs at most `limits.max_decoders` decoder processes at once
    /// and paces its bodies as `limits` say.
    pub fn new(limits: &Limits, metrics: TenantMetrics) -> Arc<Self> {
        let permits = Arc::new(Semaphore::new(limits.max_decoders));
        Arc::new(Self { permits, limits: *limits, metrics })
    }

    /// A place for one more decoder process, or `Busy` when all are taken.
    pub fn permit(&self) -> Result<DecoderPermit, TranscodeError> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                self.metrics.decoders.inc();
                self.metrics.decoder_starts.inc();
                Ok(DecoderPermit { _permit: permit, running: self.metrics.decoders.clone() })
            }
            Err(_) => {
                self.metrics.limit_hit("decoders");
                Err(TranscodeError::Busy)
            }
        }
    }
}

/// One running decoder's place; gives it back, and counts it gone, when dropped.
pub struct DecoderPermit {
    _permit: OwnedSemaphorePermit,
    running: Gauge,
}

impl Drop for DecoderPermit {
    fn drop(&mut self) {
        self.running.dec();
    }
}

/// A fresh open file description of the file behind the guest's descriptor.
pub fn reopen(table: &ResourceTable, file: &Resource<Descriptor>) -> wasmtime::Result<File> {
    match table.get(file)? {
        Descriptor::File(file) => Ok(reopen_file(&file.file)?),
        Descriptor::Dir(_) => wasmtime::bail!("transcode was given a directory"),
    }
}

/// Another open file description of `file`, with an offset of its own. Only of a
/// regular file: opening a FIFO again would wait for a writer.
pub fn reopen_file(file: &File) -> io::Result<File> {
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}
