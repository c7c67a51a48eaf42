//! The `tapedeck:server/mp3` import: any library file as constant-bitrate MP3. One confined
//! `ffmpeg` decodes the file to 48 kHz PCM; for each block of frames a range touches, a
//! confined `ffmpeg` (libmp3lame) encodes that block from the PCM alone, so the encoder never
//! reads the tenant's file, and every block's bytes are the same whichever request makes them.

mod body;
mod encoder;
mod probe;

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use self::body::Mp3Body;
use super::{ImportsCtxView, check_chunks, reopen};
use crate::imports::bindings::tapedeck::server::mp3::{Chunk, Container, Host, Mp3Stream};
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;

/// The sample rate of every stream: at 48 kHz a Layer III frame is `3 × kbit/s` bytes exactly.
const RATE: u64 = 48_000;

/// The bitrates Layer III signals, in kbit/s, by header index 1..=14.
const BITRATES: [u32; 14] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/// `requested` kbit/s lowered to `max`, then to a bitrate Layer III signals (32 at least).
fn settle_bitrate(requested: u32, max: u32) -> u32 {
    let ceiling = requested.min(max);
    BITRATES.iter().copied().filter(|&kbps| kbps <= ceiling).max().unwrap_or(BITRATES[0])
}

/// ffmpeg's and ffprobe's input options for `container`, reading the descriptor on stdin. The
/// demuxer is forced, as for the WAV transcode (`decoder.rs`). Where the tool must seek, the
/// input is `file:/dev/stdin`, the same open file: MP4 written in one pass keeps its index at
/// the end, and a probe finds the length of MP3 (without a Xing frame), Ogg and WAV only
/// from the file's size or its last page (from a pipe ffprobe says `duration=N/A`). None of
/// these demuxers opens other files by name (the mov demuxer follows references only with
/// `enable_drefs`), and the whitelist allows only `file` or `pipe`.
fn input_args(container: Container, probing: bool) -> [&'static str; 6] {
    let format = match container {
        Container::Mp3 => "mp3",
        Container::Flac => "flac",
        Container::Wav => "wav",
        Container::Mp4 => "mp4",
        Container::Ogg => "ogg",
        Container::Asf => "asf",
        Container::Wavpack => "wv",
    };
    let seeks = match container {
        Container::Mp4 => true,
        Container::Mp3 | Container::Wav | Container::Ogg => probing,
        Container::Flac | Container::Asf | Container::Wavpack => false,
    };
    let (protocol, input) = if seeks { ("file", "file:/dev/stdin") } else { ("pipe", "pipe:0") };
    ["-f", format, "-protocol_whitelist", protocol, "-i", input]
}

impl Host for ImportsCtxView<'_> {
    async fn probe(
        &mut self,
        file: Resource<Descriptor>,
        container: Container,
        bitrate: u32,
    ) -> wasmtime::Result<Result<Mp3Stream, TranscodeError>> {
        let input = reopen(self, &file)?;
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
        let input = reopen(self, &file)?;
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

#[cfg(test)]
mod tests {
    use super::settle_bitrate;

    #[test]
    fn bitrate_is_clamped_to_the_limit_and_to_layer_three() {
        #[rustfmt::skip]
        let cases = [(192, 320, 192), (320, 128, 128), (320, 100, 96), (32, 320, 32),
            (320, 0, 32), (100, 320, 96), (1000, 1000, 320)];
        for (requested, max, want) in cases {
            assert_eq!(settle_bitrate(requested, max), want, "{requested} under {max}");
        }
    }
}
