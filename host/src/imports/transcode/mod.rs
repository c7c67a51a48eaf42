//! The `tapedeck:server/transcode` import: decoders (`wvunpack`, `ffmpeg`) run as
//! child processes on a file the guest opened, and their output goes to the client
//! as the guest laid it out ([`TranscodeBody`]).
//!
//! The guest hands over a descriptor, never a path: each decoder gets its own open
//! file description of that same file (through `/proc/self/fd`) as stdin, so it can
//! seek, and no path the guest chose reaches a command line. The guest is gone once
//! it has sent the body, so a slow reader of a transcode holds a decoder and a
//! socket, not a wasm instance.

mod body;
mod decoder;
mod mp3;
mod probe;

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use self::body::TranscodeBody;
use self::decoder::Source;
use super::bindings::tapedeck::server::transcode::{Chunk, Codec, Host, PcmFormat, TranscodeError};
use super::{ImportsCtxView, check_body_size};
use crate::config::Limits;
use crate::metrics::TenantMetrics;

/// A tenant's decoders: how many may run, and what they are counted in.
pub struct Transcoder {
    permits: Arc<Semaphore>,
    limits: Limits,
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
    pub(super) fn permit(&self) -> Result<DecoderPermit, TranscodeError> {
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
pub(super) struct DecoderPermit {
    _permit: OwnedSemaphorePermit,
    running: Gauge,
}

impl Drop for DecoderPermit {
    fn drop(&mut self) {
        self.running.dec();
    }
}

impl Host for ImportsCtxView<'_> {
    async fn probe(
        &mut self,
        file: Resource<Descriptor>,
        codec: Codec,
    ) -> wasmtime::Result<Result<PcmFormat, TranscodeError>> {
        let input = reopen(self, &file)?;
        Ok(match self.ctx.transcoder.permit() {
            Ok(_permit) => probe::probe(input, codec).await,
            Err(busy) => Err(busy),
        })
    }

    async fn send(
        &mut self,
        file: Resource<Descriptor>,
        codec: Codec,
        format: PcmFormat,
        chunks: Vec<Chunk>,
    ) -> wasmtime::Result<Result<(), TranscodeError>> {
        check_chunks(&chunks, |chunk| match chunk {
            Chunk::Literal(bytes) => bytes.len(),
            Chunk::Pcm(_) => 0,
        })?;
        let file = reopen(self, &file)?;
        let source = Source { file, codec, format, transcoder: Arc::clone(&self.ctx.transcoder) };
        let first_span = chunks.iter().find_map(|chunk| match chunk {
            Chunk::Pcm(span) => Some(*span),
            Chunk::Literal(_) => None,
        });
        let first = match first_span.map(|span| source.start(span)) {
            Some(Ok(decoder)) => Some(decoder),
            Some(Err(error)) => return Ok(Err(error)),
            None => None,
        };
        let plays_per_sec = u64::from(format.sample_rate)
            * u64::from(format.channels)
            * u64::from(format.bits_per_sample / 8);
        if let Some(pace) = self.ctx.transcoder.limits.transcode_pace(plays_per_sec) {
            self.ctx.body.connection.pace.narrow(pace);
        }
        let body = TranscodeBody::new(source, chunks, first, self.ctx.deadline);
        self.ctx.body.put(HyperOutgoingBody::new(body));
        Ok(Ok(()))
    }
}

/// Refuses (with a trap) a body of more chunks or literal bytes than any guest needs;
/// `literal_len` is a chunk's literal bytes.
fn check_chunks<C>(chunks: &[C], literal_len: impl Fn(&C) -> usize) -> wasmtime::Result<()> {
    check_body_size(chunks.len(), chunks.iter().map(literal_len).sum())
}

/// A fresh open file description of the file behind the guest's descriptor.
fn reopen(view: &ImportsCtxView<'_>, file: &Resource<Descriptor>) -> wasmtime::Result<File> {
    match view.table.get(file)? {
        Descriptor::File(file) => Ok(reopen_file(&file.file)?),
        Descriptor::Dir(_) => wasmtime::bail!("transcode was given a directory"),
    }
}

/// Another open file description of `file`, with an offset of its own. Only of a
/// regular file: opening a FIFO again would wait for a writer.
pub(super) fn reopen_file(file: &File) -> io::Result<File> {
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}
