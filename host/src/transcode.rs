//! The `tapedeck:server/transcode` import: decoders (`wvunpack`, `ffmpeg`) run as
//! child processes on a file the guest opened, and their output goes to the client
//! as the guest laid it out ([`TranscodeBody`]).
//!
//! The guest hands over a descriptor, never a path: each decoder gets its own open
//! file description of that same file (through `/proc/self/fd`) as stdin, so it can
//! seek, and no path the guest chose reaches a command line. The guest is gone once
//! it has sent the body, so a slow reader of a transcode holds a decoder and a
//! socket, not a wasm instance.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use prometheus_client::metrics::gauge::Gauge;

use crate::bindings::tapedeck::server::transcode::{
    Chunk, Codec, Host, PcmFormat, PcmSpan, TranscodeError,
};
use crate::metrics::TenantMetrics;
use crate::sandbox::GuestState;

/// A tenant's decoders: how many may run, and what they are counted in.
pub struct Transcoder {
    permits: Arc<Semaphore>,
    metrics: TenantMetrics,
}

impl Transcoder {
    /// A transcoder that runs at most `max_decoders` decoder processes at once.
    pub fn new(max_decoders: usize, metrics: TenantMetrics) -> Arc<Self> {
        Arc::new(Self { permits: Arc::new(Semaphore::new(max_decoders)), metrics })
    }

    /// A place for one more decoder process, or `Busy` when all are taken.
    fn permit(&self) -> Result<DecoderPermit, TranscodeError> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                self.metrics.decoders.inc();
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
struct DecoderPermit {
    _permit: OwnedSemaphorePermit,
    running: Gauge,
}

impl Drop for DecoderPermit {
    fn drop(&mut self) {
        self.running.dec();
    }
}

impl Host for GuestState {
    async fn probe(
        &mut self,
        file: Resource<Descriptor>,
        codec: Codec,
    ) -> wasmtime::Result<Result<PcmFormat, TranscodeError>> {
        let input = reopen(self, &file)?;
        Ok(match self.transcoder.permit() {
            Ok(_permit) => probe(input, codec).await,
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
        let file = reopen(self, &file)?;
        let source = Source { file, codec, format, transcoder: Arc::clone(&self.transcoder) };
        let first_span = chunks.iter().find_map(|chunk| match chunk {
            Chunk::Pcm(span) => Some(*span),
            Chunk::Literal(_) => None,
        });
        let first = match first_span.map(|span| source.start(span)) {
            Some(Ok(decoder)) => Some(decoder),
            Some(Err(error)) => return Ok(Err(error)),
            None => None,
        };
        let body = TranscodeBody::new(source, chunks, first, self.deadline);
        self.file_body.put(HyperOutgoingBody::new(body));
        Ok(Ok(()))
    }
}

/// A fresh open file description of the file behind the guest's descriptor.
fn reopen(state: &GuestState, file: &Resource<Descriptor>) -> wasmtime::Result<File> {
    match state.table.get(file)? {
        Descriptor::File(file) => Ok(reopen_file(&file.file)?),
        Descriptor::Dir(_) => wasmtime::bail!("transcode was given a directory"),
    }
}

/// Another open file description of `file`, with an offset of its own.
fn reopen_file(file: &File) -> io::Result<File> {
    File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// What a transcode's decoders run on.
struct Source {
    file: File,
    codec: Codec,
    format: PcmFormat,
    transcoder: Arc<Transcoder>,
}

impl Source {
    /// Starts a decoder whose output is the bytes of `span`.
    fn start(&self, span: PcmSpan) -> Result<DecoderOutput, TranscodeError> {
        let input = reopen_file(&self.file).map_err(|error| {
            tracing::error!(%error, "failed to reopen a file to decode");
            TranscodeError::Corrupt("the file could not be reopened".into())
        })?;
        let permit = self.transcoder.permit()?;
        let frames =
            Frames { format: self.format, start: span.first_frame, count: span.frame_count };
        let mut output = decode(input, self.codec, frames, permit)?;
        output.skip += span.skip;
        Ok(output)
    }
}

/// The program that decodes `codec`, as the error names it when it is missing.
fn tool(codec: Codec, probing: bool) -> &'static str {
    match (codec, probing) {
        (Codec::Wavpack, _) => "wvunpack",
        (Codec::Wma, true) => "ffprobe",
        (Codec::Wma, false) => "ffmpeg",
    }
}

async fn probe(input: File, codec: Codec) -> Result<PcmFormat, TranscodeError> {
    let args: &[&str] = match codec {
        // `-f`: one machine-readable line, `rate;bits;int|float;channels;mask;frames;…`.
        Codec::Wavpack => &["-f", "-"],
        Codec::Wma => &[
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=sample_rate,channels:format=duration",
            "-of",
            "default=noprint_wrappers=1",
            "file:/dev/stdin",
        ],
    };
    let name = tool(codec, true);
    let output = Command::new(name)
        .args(args)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| spawn_error(name, error))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed = match codec {
        Codec::Wavpack => parse_wvunpack_info(&stdout),
        Codec::Wma => parse_ffprobe(&stdout),
    };
    match parsed {
        Some(format) if output.status.success() => Ok(format),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr.lines().map(str::trim).find(|line| !line.is_empty());
            tracing::warn!(tool = name, reason, "probe failed");
            Err(TranscodeError::Corrupt(format!("{name} cannot read this file")))
        }
    }
}

/// Which frames of a file to decode, in the format `probe` found.
struct Frames {
    format: PcmFormat,
    start: u64,
    count: u64,
}

fn decode(
    input: File,
    codec: Codec,
    frames: Frames,
    permit: DecoderPermit,
) -> Result<DecoderOutput, TranscodeError> {
    let name = tool(codec, false);
    let mut command = Command::new(name);
    // WavPack seeks exactly to a frame. A lossy decoder's output depends on where it
    // starts, so WMA is always decoded from the start and the host skips to the frame:
    // then every range is the same slice of the one full decode.
    let skip_frames = match codec {
        Codec::Wavpack => {
            command.args(["-q", "-r", "-y"]);
            command.arg(format!("--skip={}", frames.start));
            command.arg(format!("--until=+{}", frames.count));
            command.args(["-", "-o", "-"]);
            0
        }
        Codec::Wma => {
            command.args(["-nostdin", "-v", "error", "-i", "file:/dev/stdin", "-map", "0:a:0"]);
            command.args(["-f", "s16le", "-acodec", "pcm_s16le"]);
            command.args(["-ac", &frames.format.channels.to_string()]);
            command.args(["-ar", &frames.format.sample_rate.to_string(), "-"]);
            frames.start
        }
    };
    let block_align =
        u64::from(frames.format.channels) * u64::from(frames.format.bits_per_sample / 8);
    let mut child = command
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| spawn_error(name, error))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    Ok(DecoderOutput {
        stdout,
        skip: skip_frames * block_align,
        child: Some(child),
        _permit: permit,
    })
}

fn spawn_error(name: &str, error: io::Error) -> TranscodeError {
    if error.kind() == io::ErrorKind::NotFound {
        TranscodeError::MissingTool(name.into())
    } else {
        tracing::error!(tool = name, %error, "failed to start decoder");
        TranscodeError::Corrupt(format!("{name} could not be started"))
    }
}

/// Parses `wvunpack -f`: `rate;bits;int|float;channels;mask;frames;md5;version;mode;`.
fn parse_wvunpack_info(stdout: &str) -> Option<PcmFormat> {
    let fields: Vec<&str> = stdout.lines().next()?.split(';').collect();
    Some(PcmFormat {
        sample_rate: fields.first()?.parse().ok()?,
        bits_per_sample: fields.get(1)?.parse().ok()?,
        float: *fields.get(2)? == "float",
        channels: fields.get(3)?.parse().ok()?,
        total_frames: fields.get(5)?.parse().ok()?,
    })
}

/// Parses ffprobe's `key=value` lines; WMA is decoded to 16-bit integers, and its
/// frame count is the container's duration (the guest pads or trims to it).
fn parse_ffprobe(stdout: &str) -> Option<PcmFormat> {
    let value =
        |key: &str| stdout.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='));
    let sample_rate: u32 = value("sample_rate")?.parse().ok()?;
    let duration: f64 = value("duration")?.parse().ok()?;
    Some(PcmFormat {
        sample_rate,
        channels: value("channels")?.parse().ok()?,
        bits_per_sample: 16,
        float: false,
        total_frames: (duration * f64::from(sample_rate)).round() as u64,
    })
}

/// A decoder's stdout. Dropping it kills and reaps the decoder, so the process
/// lives exactly as long as the guest's stream.
struct DecoderOutput {
    stdout: ChildStdout,
    /// Bytes still to discard before the first one the guest asked for.
    skip: u64,
    child: Option<Child>,
    _permit: DecoderPermit,
}

impl Drop for DecoderOutput {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        _ = child.start_kill();
        // tokio reaps a dropped child only when some later child event comes; wait
        // for this one now, so an idle server holds no zombie.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { _ = child.wait().await });
        }
    }
}

impl AsyncRead for DecoderOutput {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut self.stdout).poll_read(cx, buf))?;
            let got = (buf.filled().len() - before) as u64;
            if self.skip == 0 || got == 0 {
                return Poll::Ready(Ok(()));
            }
            let dropped = got.min(self.skip);
            self.skip -= dropped;
            let filled = buf.filled_mut();
            filled.copy_within(before + dropped as usize.., before);
            buf.set_filled(before + (got - dropped) as usize);
            if buf.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// The most a decoder's output is read at once, and the size of a silence chunk.
const READ_BYTES: usize = 64 * 1024;

/// Padding for a decoder that ends early; never a [`crate::sendfile`] hole.
static SILENCE: [u8; READ_BYTES] = [0; READ_BYTES];

/// A transcode's response body: the guest's literal bytes, and the PCM of decoders
/// run one after another. At the request's deadline its decoder is killed even if
/// nothing reads the body (a stalled client), and the body ends short.
struct TranscodeBody {
    sending: Arc<Mutex<Sending>>,
    remaining: u64,
    /// Dropped with the body, which ends the deadline's watch early.
    _watch: oneshot::Sender<()>,
}

/// Where a [`TranscodeBody`] is, shared with the watch of its deadline.
struct Sending {
    source: Source,
    chunks: VecDeque<Chunk>,
    /// The decoder `send` started for the first PCM span.
    first: Option<DecoderOutput>,
    /// The decoder of the span being sent, and how many of its bytes are still due.
    decoder: Option<(DecoderOutput, u64)>,
    /// Zero bytes owed for a decoder that ended early.
    silence: u64,
    /// The deadline passed: the decoder is gone and the body ends short.
    expired: bool,
    /// The task waiting for the decoder, woken when the deadline passes.
    waiting: Option<Waker>,
}

impl TranscodeBody {
    fn new(
        source: Source,
        chunks: Vec<Chunk>,
        first: Option<DecoderOutput>,
        deadline: Instant,
    ) -> Self {
        let remaining = chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Literal(bytes) => bytes.len() as u64,
                Chunk::Pcm(span) => span.length,
            })
            .sum();
        let sending = Arc::new(Mutex::new(Sending {
            source,
            chunks: chunks.into(),
            first,
            decoder: None,
            silence: 0,
            expired: false,
            waiting: None,
        }));
        let (watch, body_dropped) = oneshot::channel();
        let watched = Arc::downgrade(&sending);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                _ = body_dropped => return,
            }
            if let Some(sending) = watched.upgrade() {
                sending.lock().unwrap().expire();
            }
        });
        Self { sending, remaining, _watch: watch }
    }
}

impl Sending {
    fn expire(&mut self) {
        self.expired = true;
        self.first = None;
        self.decoder = None;
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
    }

    /// The next bytes of the body, `None` at its end.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            if self.expired {
                return Poll::Ready(Some(Err(io::Error::other("the request timed out"))));
            }
            if self.silence > 0 {
                let length = self.silence.min(READ_BYTES as u64) as usize;
                self.silence -= length as u64;
                return Poll::Ready(Some(Ok(Bytes::from_static(&SILENCE[..length]))));
            }
            if let Some((decoder, due)) = &mut self.decoder {
                if *due == 0 {
                    self.decoder = None;
                    continue;
                }
                let mut buf = vec![0; (*due).min(READ_BYTES as u64) as usize];
                let mut read = ReadBuf::new(&mut buf);
                if Pin::new(&mut *decoder).poll_read(cx, &mut read)?.is_pending() {
                    self.waiting = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                let got = read.filled().len();
                if got == 0 {
                    // A container that overstated its length: pad to the promised size.
                    self.silence = *due;
                    self.decoder = None;
                    continue;
                }
                *due -= got as u64;
                buf.truncate(got);
                return Poll::Ready(Some(Ok(Bytes::from(buf))));
            }
            match self.chunks.pop_front() {
                None => return Poll::Ready(None),
                Some(Chunk::Literal(bytes)) if bytes.is_empty() => {}
                Some(Chunk::Literal(bytes)) => return Poll::Ready(Some(Ok(Bytes::from(bytes)))),
                Some(Chunk::Pcm(span)) => {
                    let decoder = match self.first.take() {
                        Some(decoder) => decoder,
                        None => self.source.start(span).map_err(|error| {
                            io::Error::other(format!("no decoder for the next range: {error:?}"))
                        })?,
                    };
                    self.decoder = Some((decoder, span.length));
                }
            }
        }
    }
}

impl Body for TranscodeBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let next = std::task::ready!(self.sending.lock().unwrap().poll_next(cx));
        Poll::Ready(next.map(|bytes| match bytes {
            Ok(bytes) => {
                self.remaining -= bytes.len() as u64;
                Ok(Frame::data(bytes))
            }
            Err(error) => {
                tracing::debug!(%error, "transcode ended short");
                Err(wasmtime_wasi_http::Error::HttpResponseIncomplete)
            }
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
