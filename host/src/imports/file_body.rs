//! The `tapedeck:server/file-body` import: the guest names the bytes, the host moves them.
//! [`BodySlot`] also carries the bodies of `transcode.send` (see [`super::transcode`]).
//!
//! Bytes of a file never pass through guest memory, nor through the host's: spans
//! go to the socket with `sendfile` (see [`crate::io::sendfile`]). And the guest
//! instance is gone as soon as the headers are decided, so a slow reader costs a
//! socket, not a wasm instance or a buffer.

use std::collections::VecDeque;
use std::fs::File;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::bindings::tapedeck::server::file_body::{Chunk, Host};
use super::ctx::{ImportsCtxView, check_chunks};
use crate::io::sendfile::{HOLE_BYTES, Spans};

impl Host for ImportsCtxView<'_> {
    async fn send(
        &mut self,
        file: Option<Resource<Descriptor>>,
        chunks: Vec<Chunk>,
    ) -> wasmtime::Result<()> {
        check_chunks(&chunks, |chunk| match chunk {
            Chunk::Literal(bytes) => bytes.len(),
            Chunk::Span(_) => 0,
        })?;
        let body = match file {
            Some(file) => {
                let file = match self.table.get(&file)? {
                    Descriptor::File(file) => Arc::clone(&file.file),
                    Descriptor::Dir(_) => wasmtime::bail!("file-body.send was given a directory"),
                };
                let spans = Arc::clone(&self.ctx.body.connection);
                HyperOutgoingBody::new(FileBody::new(file, chunks, spans))
            }
            None => literal_body(chunks)?,
        };
        self.ctx.body.put(body);
        Ok(())
    }
}

/// A body of literal bytes only, such as a JSON error.
fn literal_body(chunks: Vec<Chunk>) -> wasmtime::Result<HyperOutgoingBody> {
    let mut bytes = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Literal(literal) => bytes.extend(literal),
            Chunk::Span(_) => wasmtime::bail!("file-body.send was given a span without a file"),
        }
    }
    Ok(Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed_unsync())
}

/// A response body made of literal bytes and spans of one file.
pub struct FileBody {
    file: Arc<File>,
    chunks: VecDeque<Chunk>,
    remaining: u64,
    spans: Arc<Spans>,
}

impl FileBody {
    fn new(file: Arc<File>, chunks: Vec<Chunk>, spans: Arc<Spans>) -> Self {
        let remaining = chunks
            .iter()
            .map(|chunk| match chunk {
                Chunk::Literal(bytes) => bytes.len() as u64,
                Chunk::Span(span) => span.length,
            })
            .sum();
        Self { file, chunks: chunks.into(), remaining, spans }
    }

    /// The next piece of the body, or `None` at its end: literal bytes, or a hole
    /// the socket fills from the file.
    fn next_bytes(&mut self) -> Option<Bytes> {
        loop {
            match self.chunks.front_mut()? {
                Chunk::Literal(bytes) if !bytes.is_empty() => {
                    let bytes = Bytes::from(std::mem::take(bytes));
                    self.chunks.pop_front();
                    return Some(bytes);
                }
                Chunk::Span(span) if span.length > 0 => {
                    let length = span.length.min(HOLE_BYTES as u64) as usize;
                    let hole = self.spans.hole(&self.file, span.offset, length);
                    span.offset += length as u64;
                    span.length -= length as u64;
                    return Some(hole);
                }
                _ => {
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
        let next = self.next_bytes();
        if let Some(bytes) = &next {
            self.remaining -= bytes.len() as u64;
        }
        Poll::Ready(next.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
