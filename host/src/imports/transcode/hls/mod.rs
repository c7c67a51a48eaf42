//! The `tapedeck:server/hls` import: a source's probe, and one segment's packets at a time.
//! Each segment is decoded from its own window of the file and encoded by one confined
//! `ffmpeg` ([`encoder`]), so its packets depend only on the file and the segment; they stay
//! in the request's context until `send` makes the body of the guest's header and them.

mod encoder;
mod flac;
mod packets;
mod probe;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;

use crate::imports::bindings::tapedeck::server::hls::{Chunk, Codec, Host, Segment, Source};
use crate::imports::bindings::tapedeck::server::mp3::Container;
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::ctx::{ImportsCtxView, check_chunks};
use crate::imports::decoders::reopen;

/// The longest segment encoded, in seconds (the interface's limit).
const MAX_SEGMENT_SECS: u64 = 20;
/// AAC-LC rates an AAC segment may have.
const AAC_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
/// The highest AAC bitrate, in kbit/s: 6144 bits per channel per packet at 48 kHz is 576.
const MAX_AAC_KBPS: u32 = 576;

impl Host for ImportsCtxView<'_> {
    async fn probe(
        &mut self,
        file: Resource<Descriptor>,
        container: Container,
    ) -> wasmtime::Result<Result<Source, TranscodeError>> {
        let input = reopen(self.table, &file)?;
        Ok(probe::probe(input, container, &self.ctx.transcoder).await)
    }

    async fn encode(
        &mut self,
        file: Resource<Descriptor>,
        container: Container,
        source: Source,
        segment: Segment,
    ) -> wasmtime::Result<Result<Vec<u32>, TranscodeError>> {
        check_segment(&source, &segment)?;
        let input = reopen(self.table, &file)?;
        let transcoder = &self.ctx.transcoder;
        let encoding = encoder::encode(input, container, &source, &segment, transcoder);
        let packets = match tokio::time::timeout_at(self.ctx.deadline, encoding).await {
            Ok(Ok(packets)) => packets,
            Ok(Err(error)) => return Ok(Err(error)),
            Err(_) => return Ok(Err(TranscodeError::Corrupt("the request timed out".into()))),
        };
        let sizes = packets.iter().map(|packet| packet.len() as u32).collect();
        self.ctx.packets = Bytes::from(packets.concat());
        Ok(Ok(sizes))
    }

    async fn send(&mut self, chunks: Vec<Chunk>) -> wasmtime::Result<()> {
        check_chunks(&chunks, |chunk| match chunk {
            Chunk::Literal(bytes) => bytes.len(),
            Chunk::Packets(_) => 0,
        })?;
        let packets = std::mem::take(&mut self.ctx.packets);
        let mut body = Vec::with_capacity(packets.len() + 4096);
        for chunk in chunks {
            match chunk {
                Chunk::Literal(bytes) => body.extend(bytes),
                Chunk::Packets(span) => {
                    let range = usize::try_from(span.offset)
                        .ok()
                        .zip(usize::try_from(span.offset.saturating_add(span.length)).ok())
                        .filter(|&(_, end)| end <= packets.len());
                    let Some((start, end)) = range else {
                        wasmtime::bail!("hls.send: a span past the packets encoded");
                    };
                    body.extend_from_slice(&packets[start..end]);
                }
            }
        }
        let body = Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync();
        self.ctx.body.put(body);
        Ok(())
    }
}

/// Traps a segment no guest of this interface asks for: a rate its codec does not have, more
/// than [`MAX_SEGMENT_SECS`] of samples, none, or samples past the source.
fn check_segment(source: &Source, segment: &Segment) -> wasmtime::Result<()> {
    let rate_ok = match segment.codec {
        Codec::Aac(kbps) => AAC_RATES.contains(&segment.rate) && (1..=MAX_AAC_KBPS).contains(&kbps),
        Codec::Flac => segment.rate == source.sample_rate,
    };
    let total = u128::from(source.samples) * u128::from(segment.rate)
        / u128::from(source.sample_rate.max(1));
    let within = segment.samples > 0
        && segment.samples <= MAX_SEGMENT_SECS * u64::from(segment.rate)
        && u128::from(segment.first) < total.max(1)
        && matches!(source.channels, 1 | 2)
        && matches!(source.bits, 16 | 24)
        && source.sample_rate > 0;
    if !(rate_ok && within) {
        wasmtime::bail!("hls.encode: a segment out of bounds: {segment:?} of {source:?}");
    }
    Ok(())
}
