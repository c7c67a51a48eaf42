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

use crate::sandbox::GuestState;

use crate::bindings::tapedeck::server::file_body::{Chunk, Host};

/// Bytes read from the file per body frame: large enough for few syscalls, small
/// enough that a stalled reader pins little memory.
const READ_CHUNK: usize = 64 * 1024;

/// Where the import leaves a body for the response the guest is about to set.
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<FileBody>>>);

impl Slot {
    /// Gives `response` the body the guest asked for, if it asked for one.
    pub fn attach(
        &self,
        response: hyper::Response<HyperOutgoingBody>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.0.lock().unwrap().take() {
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
        *self.file_body.0.lock().unwrap() = Some(FileBody::new(file, chunks));
        Ok(())
    }
}

/// A response body made of literal bytes and spans of one file.
pub struct FileBody {
    file: Arc<File>,
    chunks: VecDeque<Chunk>,
    remaining: u64,
}

impl FileBody {
    fn new(file: Arc<File>, chunks: Vec<Chunk>) -> Self {
        let remaining = chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Literal(bytes) => bytes.len() as u64,
                Chunk::Span(span) => span.length,
            })
            .sum();
        Self { file, chunks: chunks.into(), remaining }
    }

    /// The next piece of the body, or `None` at its end. Reads are a plain `pread`
    /// on the runtime thread, as nginx does without `aio`: library files sit in the
    /// page cache, and a hop to a blocking thread per chunk costs more than the read.
    fn next_bytes(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            match self.chunks.front_mut() {
                None => return Ok(None),
                Some(Chunk::Literal(bytes)) if !bytes.is_empty() => {
                    let bytes = Bytes::from(std::mem::take(bytes));
                    self.chunks.pop_front();
                    return Ok(Some(bytes));
                }
                Some(Chunk::Span(span)) if span.length > 0 => {
                    let want = span.length.min(READ_CHUNK as u64) as usize;
                    let mut buf = BytesMut::zeroed(want);
                    let read = self.file.read_at(&mut buf, span.offset)?;
                    if read == 0 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the file shrank while being sent",
                        ));
                    }
                    buf.truncate(read);
                    span.offset += read as u64;
                    span.length -= read as u64;
                    return Ok(Some(buf.freeze()));
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
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(match self.next_bytes() {
            Ok(None) => None,
            Ok(Some(bytes)) => {
                self.remaining -= bytes.len() as u64;
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
