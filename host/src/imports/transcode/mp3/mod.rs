//! The `tapedeck:server/mp3` import: any library file as constant-bitrate MP3. One confined
//! `ffmpeg` decodes the file to 48 kHz PCM; for each block of frames a range touches, a
//! confined `ffmpeg` (libmp3lame) encodes that block from the PCM alone, so the encoder never
//! reads the tenant's file, and every block's bytes are the same whichever request makes them.

mod body;
mod encoder;
mod format;
mod probe;

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use self::body::Mp3Body;
use self::format::{BITRATES, settle_bitrate};
use crate::imports::bindings::tapedeck::server::mp3::{Chunk, Container, Host, Mp3Stream};
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::ctx::{ImportsCtxView, check_chunks};
use crate::imports::decoders::reopen;

impl Host for ImportsCtxView<'_> {
    async fn probe(
        &mut self,
        file: Resource<Descriptor>,
        container: Container,
        bitrate: u32,
    ) -> wasmtime::Result<Result<Mp3Stream, TranscodeError>> {
        let input = reopen(self.table, &file)?;
        let bitrate = settle_bitrate(bitrate, self.ctx.transcoder.limits.max_bitrate);
        Ok(match self.ctx.transcoder.permit() {
            Ok(_permit) => probe::probe(input, container, bitrate).await,
            Err(busy) => Err(busy),
        })
    }

    async fn send(
        &mut self,
        file: Resource<Descriptor>,
        container: Container,
        stream: Mp3Stream,
        chunks: Vec<Chunk>,
    ) -> wasmtime::Result<Result<(), TranscodeError>> {
        check_chunks(&chunks, |chunk| match chunk {
            Chunk::Literal(bytes) => bytes.len(),
            Chunk::Frames(_) => 0,
        })?;
        if !BITRATES.contains(&stream.bitrate) || !matches!(stream.channels, 1 | 2) {
            wasmtime::bail!(
                "an mp3 stream of {} kbit/s, {} channels",
                stream.bitrate,
                stream.channels
            );
        }
        let input = reopen(self.table, &file)?;
        let transcoder = Arc::clone(&self.ctx.transcoder);
        let body =
            match Mp3Body::start(input, container, stream, chunks, transcoder, self.ctx.deadline) {
                Ok(body) => body,
                Err(error) => return Ok(Err(error)),
            };
        let plays_per_sec = u64::from(stream.bitrate) * 1000 / 8;
        if let Some(pace) = self.ctx.transcoder.limits.transcode_pace(plays_per_sec) {
            self.ctx.body.connection.pace.narrow(pace);
        }
        self.ctx.body.put(HyperOutgoingBody::new(body));
        Ok(Ok(()))
    }
}
