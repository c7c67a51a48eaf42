//! The body of a transcode: the guest's literal bytes and the PCM of decoders run one
//! after another, cut at the request's deadline.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::decoder::{DecoderOutput, Source};
use crate::imports::bindings::tapedeck::server::transcode::Chunk;

/// The most a decoder's output is read at once, and the size of a silence chunk.
const READ_BYTES: usize = 64 * 1024;

/// Padding for a decoder that ends early; never a [`crate::io::sendfile`] hole.
static SILENCE: [u8; READ_BYTES] = [0; READ_BYTES];

/// A transcode's response body: the guest's literal bytes, and the PCM of decoders
/// run one after another. At the request's deadline its decoder is killed even if
/// nothing reads the body (a stalled client), and the body ends short.
pub(super) struct TranscodeBody {
    sending: Arc<Mutex<Sending>>,
    remaining: u64,
    /// Dropped with the body, which ends the deadline's watch early.
    _watch: oneshot::Sender<()>,
}

/// Where a [`TranscodeBody`] is, shared with the watch of its deadline.
struct Sending {
    source: Source,
    chunks: VecDeque<Chunk>,
    /// A decoder between spans: the one `send` started for the first, or the last
    /// one, which the next span may carry on.
    idle: Option<DecoderOutput>,
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
    pub(super) fn new(
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
            idle: first,
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
        self.idle = None;
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
                    self.idle = self.decoder.take().map(|(decoder, _)| decoder);
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
                    let decoder =
                        self.source.decoder_for(span, self.idle.take()).map_err(|error| {
                            io::Error::other(format!("no decoder for the next range: {error:?}"))
                        })?;
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
