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
mod demux;
mod filter;
mod hls;
mod mp3;
mod probe;

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use self::body::TranscodeBody;
use self::decoder::Source;
use super::bindings::tapedeck::server::transcode::{Chunk, Codec, Host, PcmFormat, TranscodeError};
use super::ctx::{ImportsCtxView, check_chunks};
use super::decoders::reopen;

impl Host for ImportsCtxView<'_> {
    async fn probe(
        &mut self,
        file: Resource<Descriptor>,
        codec: Codec,
    ) -> wasmtime::Result<Result<PcmFormat, TranscodeError>> {
        let input = reopen(self.table, &file)?;
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
        let file = reopen(self.table, &file)?;
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
