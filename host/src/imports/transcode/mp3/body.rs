//! The body of an MP3 stream: the guest's literal bytes and the frames of the blocks its spans
//! touch, made by a task that feeds each block's encoder from the one decoder of the request.
//!
//! Frames are made in blocks of [`BLOCK_FRAMES`]. Block `b`'s encoder gets the source's PCM
//! from frame `bB − P` to frame `bB + B + Q` ([`PRE_ROLL_FRAMES`] P, [`POST_ROLL_FRAMES`] Q;
//! zeros outside the source) and its output frames `P..P + B` are the block's frames: output
//! frame `j` of a run starting at a frame boundary lines up with global frame `bB + j − P`,
//! so a block depends only on the source, and blocks of separate runs follow one another.

use std::fs::File;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::AsyncReadExt;
use tokio::process::ChildStdout;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::encoder::{self, frame_len};
use super::format::RATE;
use crate::imports::bindings::tapedeck::server::mp3::{Chunk, Container, Mp3Stream};
use crate::imports::bindings::tapedeck::server::transcode::TranscodeError;
use crate::imports::decoders::{DecoderPermit, Transcoder};
use crate::imports::transcode::demux::{SETTLE_SECS, ffmpeg_from};
use crate::imports::transcode::probe::spawn_error;
use crate::io::confine::Reaped;
use crate::io::confine::confine;

/// Frames per block: 416 × 1152 samples is 9.98 s. Each block costs an encoder start (tens of
/// ms) and P + Q frames encoded twice (2.4 % at 416), and a seek waits for its block to be
/// encoded (libmp3lame runs tens of times faster than real time here, so a few hundred ms)
/// and holds its PCM (1.9 MiB of stereo).
const BLOCK_FRAMES: u64 = 416;
/// Frames encoded before a block and dropped, so the encoder's state (MDCT overlap,
/// psychoacoustic history) is the source's at the block's first frame.
const PRE_ROLL_FRAMES: u64 = 8;
/// Frames of source after a block, so its last frames are not the encoder's end-of-input
/// flush: without them a 440 Hz sine decoded 5x worse at the joins (RMS error 259 against 52
/// of a continuous encode, at half scale); with 2, no worse than a continuous encode.
const POST_ROLL_FRAMES: u64 = 2;
/// Samples per channel in a frame.
const SAMPLES_PER_FRAME: u64 = 1152;
/// LAME's encoder delay plus the decoder's, in samples: where the first source sample lands.
const DELAY: u64 = 1105;
/// The most bytes sent at once.
const PIECE_BYTES: usize = 64 * 1024;

/// An MP3 stream's body: the bytes its task makes, in order.
pub(super) struct Mp3Body {
    made: mpsc::Receiver<io::Result<Bytes>>,
    remaining: u64,
    /// Ends the task (and kills its decoder and encoder) when the body goes.
    task: AbortHandle,
}

impl Mp3Body {
    /// Starts the decoder of `file` now, so that a busy or missing one is an error before the
    /// status is sent, and a task that makes the body of `chunks` until `deadline`.
    pub(super) fn start(
        file: File,
        container: Container,
        stream: Mp3Stream,
        chunks: Vec<Chunk>,
        transcoder: Arc<Transcoder>,
        deadline: Instant,
    ) -> Result<Self, TranscodeError> {
        let remaining = chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Literal(bytes) => bytes.len() as u64,
                Chunk::Frames(span) => span.length,
            })
            .sum();
        let needs_frames = chunks.iter().any(|chunk| matches!(chunk, Chunk::Frames(_)));
        let maker = if needs_frames {
            let first_block = chunks.iter().find_map(|chunk| match chunk {
                Chunk::Frames(span) => Some(span.first_frame / BLOCK_FRAMES),
                Chunk::Literal(_) => None,
            });
            let first_sample = (first_block.unwrap_or(0) * BLOCK_FRAMES)
                .saturating_sub(PRE_ROLL_FRAMES)
                * SAMPLES_PER_FRAME;
            let decoder = Decoder::start(file, container, &stream, first_sample, &transcoder)?;
            // The encoders of the request run one at a time, in this one place.
            let encoder_permit = transcoder.permit()?;
            Some(Maker { decoder, stream, _encoder_permit: encoder_permit, last: None })
        } else {
            None
        };
        let (sender, made) = mpsc::channel(2);
        let task = tokio::spawn(async move {
            let making = make(maker, chunks, sender.clone());
            let result = match tokio::time::timeout_at(deadline, making).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::other("the request timed out")),
            };
            if let Err(error) = result {
                _ = sender.try_send(Err(error));
            }
        });
        Ok(Self { made, remaining, task: task.abort_handle() })
    }
}

impl Drop for Mp3Body {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends the body of `chunks` to `sender`, in order.
async fn make(
    mut maker: Option<Maker>,
    chunks: Vec<Chunk>,
    sender: mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let send = |bytes: Bytes| {
        let sender = sender.clone();
        async move { sender.send(Ok(bytes)).await.map_err(|_| io::Error::other("body dropped")) }
    };
    for chunk in chunks {
        let span = match chunk {
            Chunk::Literal(bytes) => {
                send(Bytes::from(bytes)).await?;
                continue;
            }
            Chunk::Frames(span) => span,
        };
        let maker = maker.as_mut().expect("a body with frames has a maker");
        let block_len = BLOCK_FRAMES * frame_len(&maker.stream) as u64;
        let mut at = span.first_frame * frame_len(&maker.stream) as u64 + span.skip;
        let end = at + span.length;
        while at < end {
            let block = at / block_len;
            let frames = maker.block(block).await?;
            let from = (at - block * block_len) as usize;
            let to = (end - block * block_len).min(frames.len() as u64) as usize;
            if to <= from {
                return Err(io::Error::other("a span past the stream's frames"));
            }
            let mut piece = from;
            while piece < to {
                let next = (piece + PIECE_BYTES).min(to);
                send(frames.slice(piece..next)).await?;
                piece = next;
            }
            at += (to - from) as u64;
        }
    }
    Ok(())
}

/// Makes the frames of a request's blocks, in ascending order.
struct Maker {
    decoder: Decoder,
    stream: Mp3Stream,
    _encoder_permit: DecoderPermit,
    /// The last block made, which the next span may start in.
    last: Option<(u64, Bytes)>,
}

impl Maker {
    /// The frames of `block`: [`BLOCK_FRAMES`] of them, fewer in the last block.
    async fn block(&mut self, block: u64) -> io::Result<Bytes> {
        if let Some((made, frames)) = &self.last
            && *made == block
        {
            return Ok(frames.clone());
        }
        let total = (self.stream.samples + DELAY).div_ceil(SAMPLES_PER_FRAME);
        let first = block * BLOCK_FRAMES;
        let count = BLOCK_FRAMES.min(total.saturating_sub(first));
        let start = first as i64 - PRE_ROLL_FRAMES as i64;
        let window = PRE_ROLL_FRAMES + BLOCK_FRAMES + POST_ROLL_FRAMES;
        let pcm = self
            .decoder
            .window(start * SAMPLES_PER_FRAME as i64, window * SAMPLES_PER_FRAME)
            .await?;
        let frames =
            encoder::encode(&pcm, &self.stream, PRE_ROLL_FRAMES as usize, count as usize).await?;
        let frames = Bytes::from(frames);
        self.last = Some((block, frames.clone()));
        Ok(frames)
    }
}

/// The request's one decoder: the file as s16le at 48 kHz, cut or padded with zeros to the
/// probed length. A lossless source (FLAC, WAV, WavPack) is decoded from the whole second
/// a second before the request's first window, where ffmpeg's output starts at an exact
/// sample: a lossless decode, and the resampler once it has a second of history, give there
/// the samples of a decode from the start, so ranges stay slices of one stream. Any other
/// source is decoded from its start: a lossy decoder's output depends on where it starts.
struct Decoder {
    stdout: ChildStdout,
    _child: Reaped,
    _permit: DecoderPermit,
    /// Bytes per sample frame (all channels).
    frame_bytes: u64,
    /// The source's length in bytes of PCM.
    len: u64,
    /// Decoded bytes kept, from byte `kept_from` of the decode.
    kept: Vec<u8>,
    kept_from: u64,
    /// Bytes read from the decoder so far; it ended when `ended`.
    read: u64,
    ended: bool,
}

impl Decoder {
    fn start(
        file: File,
        container: Container,
        stream: &Mp3Stream,
        first_sample: u64,
        transcoder: &Transcoder,
    ) -> Result<Self, TranscodeError> {
        let permit = transcoder.permit()?;
        let lossless = matches!(container, Container::Flac | Container::Wav | Container::Wavpack);
        let seek_secs =
            if lossless { (first_sample / RATE).saturating_sub(SETTLE_SECS) } else { 0 };
        let mut command = ffmpeg_from(container, seek_secs);
        command.args(["-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le"]);
        command.args(["-ac", &stream.channels.to_string(), "-ar", "48000", "pipe:1"]);
        confine(&mut command);
        let mut child = command
            .stdin(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| spawn_error("ffmpeg", error))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let frame_bytes = 2 * u64::from(stream.channels);
        Ok(Self {
            stdout,
            _child: Reaped::new(child),
            _permit: permit,
            frame_bytes,
            len: stream.samples * frame_bytes,
            kept: Vec::new(),
            kept_from: seek_secs * RATE * frame_bytes,
            read: seek_secs * RATE * frame_bytes,
            ended: false,
        })
    }

    /// `samples` samples from sample `start` (before 0 or past the source: zeros). Windows
    /// must not start before the previous one did.
    async fn window(&mut self, start: i64, samples: u64) -> io::Result<Vec<u8>> {
        let bytes = (samples * self.frame_bytes) as usize;
        let from = start * self.frame_bytes as i64;
        let end = from + bytes as i64;
        let keep_from = from.max(0) as u64;
        if keep_from < self.kept_from {
            return Err(io::Error::other("blocks out of order"));
        }
        // Drop what no later window needs.
        let drop = ((keep_from - self.kept_from) as usize).min(self.kept.len());
        self.kept.drain(..drop);
        self.kept_from = keep_from;
        let want_end = (end.max(0) as u64).min(self.len);
        let mut buf = vec![0; 64 * 1024];
        while !self.ended && self.read < want_end {
            let got = self.stdout.read(&mut buf).await?;
            if got == 0 {
                self.ended = true;
                break;
            }
            let (piece_from, piece_end) = (self.read, self.read + got as u64);
            self.read = piece_end;
            // Only bytes of the source (not past its probed length) from `kept_from` on.
            let lo = piece_from.max(self.kept_from);
            let hi = piece_end.min(self.len);
            if hi > lo {
                self.kept.extend_from_slice(
                    &buf[(lo - piece_from) as usize..(hi - piece_from) as usize],
                );
            }
        }
        let mut window = vec![0; bytes];
        // Where the kept bytes land in the window: at `kept_from - from` (positive when the
        // window starts before the source).
        let at = (self.kept_from as i64 - from) as usize;
        let available = ((want_end.saturating_sub(self.kept_from)) as usize).min(self.kept.len());
        let take = available.min(bytes.saturating_sub(at));
        window[at..at + take].copy_from_slice(&self.kept[..take]);
        Ok(window)
    }
}

impl Body for Mp3Body {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match std::task::ready!(self.made.poll_recv(cx)) {
            Some(Ok(bytes)) => {
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "mp3 stream ended short");
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseIncomplete)))
            }
            None if self.remaining > 0 => {
                Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseIncomplete)))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
