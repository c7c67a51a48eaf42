//! The `tapedeck:server/file-body` import: the guest names the bytes, the host moves them.
//!
//! Bytes of a file never pass through guest memory, and the guest instance is gone
//! as soon as the headers are decided, so a slow reader costs a socket and one
//! read buffer, not a wasm instance.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::pacing::{Pace, Progress};
use crate::sandbox::GuestState;

use crate::bindings::tapedeck::server::file_body::{Chunk, Host};

/// Bodies up to this size are read whole rather than paced.
const SMALL_BODY: u64 = 64 * 1024;

/// Where the import leaves a body for the response the guest is about to set.
#[derive(Clone)]
pub struct Slot {
    body: Arc<Mutex<Option<FileBody>>>,
    connection: Arc<Progress>,
}

impl Slot {
    /// An empty slot for a response on the connection `connection` watches.
    pub fn new(connection: Arc<Progress>) -> Self {
        Self { body: Arc::default(), connection }
    }

    /// Gives `response` the body the guest asked for, if it asked for one.
    pub fn attach(
        &self,
        response: hyper::Response<HyperOutgoingBody>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.body.lock().unwrap().take() {
            Some(body) => response.map(|_| HyperOutgoingBody::new(body)),
            None => response,
        }
    }
}

impl Host for GuestState {
    async fn send(
        &mut self,
        file: Resource<Descriptor>,
        chunks: Vec<Chunk>,
    ) -> wasmtime::Result<()> {
        let file = match self.table.get(&file)? {
            Descriptor::File(file) => Arc::clone(&file.file),
            Descriptor::Dir(_) => wasmtime::bail!("file-body.send was given a directory"),
        };
        let pace = Pace::new(Arc::clone(&self.file_body.connection));
        *self.file_body.body.lock().unwrap() = Some(FileBody::new(file, chunks, pace));
        Ok(())
    }
}

/// A response body made of literal bytes and spans of one file.
pub struct FileBody {
    file: Arc<File>,
    chunks: VecDeque<Chunk>,
    remaining: u64,
    pace: Pace,
    /// Reused for each read once hyper has sent and dropped the previous one.
    buf: BytesMut,
}

impl FileBody {
    fn new(file: Arc<File>, chunks: Vec<Chunk>, pace: Pace) -> Self {
        let remaining = chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Literal(bytes) => bytes.len() as u64,
                Chunk::Span(span) => span.length,
            })
            .sum();
        Self { file, chunks: chunks.into(), remaining, pace, buf: BytesMut::new() }
    }

    /// The next piece of the body, or `None` at its end. Reads are a plain `pread`
    /// on the runtime thread, as nginx does without `aio`: library files sit in the
    /// page cache, and a hop to a blocking thread per chunk costs more than the read.
    fn next_bytes(&mut self, most: usize) -> std::io::Result<Option<Bytes>> {
        loop {
            match self.chunks.front_mut() {
                None => return Ok(None),
                Some(Chunk::Literal(bytes)) if !bytes.is_empty() => {
                    let bytes = Bytes::from(std::mem::take(bytes));
                    self.chunks.pop_front();
                    return Ok(Some(bytes));
                }
                Some(Chunk::Span(span)) if span.length > 0 => {
                    let want = span.length.min(most as u64) as usize;
                    self.buf.reserve(want);
                    self.buf.resize(want, 0);
                    let read = self.file.read_at(&mut self.buf, span.offset)?;
                    if read == 0 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the file shrank while being sent",
                        ));
                    }
                    self.buf.truncate(read);
                    span.offset += read as u64;
                    span.length -= read as u64;
                    return Ok(Some(self.buf.split().freeze()));
                }
                Some(_) => {
                    self.chunks.pop_front();
                }
            }
        }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let paced = std::task::ready!(self.pace.poll_chunk(cx));
        // A small body (a player's range) goes in one read and one write; pacing
        // pays off only for long ones.
        let most = if self.remaining <= SMALL_BODY { self.remaining as usize } else { paced };
        Poll::Ready(match self.next_bytes(most) {
            Ok(None) => None,
            Ok(Some(bytes)) => {
                self.remaining -= bytes.len() as u64;
                self.pace.produced(bytes.len());
                Some(Ok(Frame::data(bytes)))
            }
            Err(error) => {
                // The status line is gone: ending the body early is all that is left.
                tracing::warn!(%error, "file body ended early");
                Some(Err(wasmtime_wasi_http::Error::ConnectionTerminated))
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
