//! The context tapedeck's imports share in one request, and the view of a store they work on.

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;
use wasmtime::component::ResourceTable;

use super::body_slot::BodySlot;
use super::decoders::Transcoder;

/// What the imports of one request share.
pub struct ImportsCtx {
    /// Where a body import leaves the body of the response the guest sets next.
    pub body: BodySlot,
    /// The tenant's decoders.
    pub transcoder: Arc<Transcoder>,
    /// When the request times out; bodies the host makes end there too.
    pub deadline: Instant,
    /// The packets of the request's last HLS segment, for the body the guest sends next.
    pub packets: Bytes,
}

/// The imports' view of a store: its resource table and their context.
pub struct ImportsCtxView<'a> {
    /// The store's resources (the guest's descriptors among them).
    pub table: &'a mut ResourceTable,
    /// The request's import context.
    pub ctx: &'a mut ImportsCtx,
}

/// A store whose state can lend the imports their view.
pub trait ImportsView: Send {
    /// The view of this state the imports work on.
    fn imports(&mut self) -> ImportsCtxView<'_>;
}

/// Chunks one body may have: a multipart answer of the most ranges a guest allows,
/// each a part header and a few spans, needs a few hundred.
const MAX_CHUNKS: usize = 4096;
/// Literal bytes one body may carry: a large JSON listing is a few hundred KiB. The
/// guest's own memory bounds what it can hand over at once; this bounds what the host
/// holds for it while a slow client reads.
const MAX_LITERAL_BYTES: usize = 16 << 20;

/// Refuses (with a trap) a body of more chunks or literal bytes than any guest needs;
/// `literal_len` is a chunk's literal bytes.
pub fn check_chunks<C>(chunks: &[C], literal_len: impl Fn(&C) -> usize) -> wasmtime::Result<()> {
    let chunks_len = chunks.len();
    if chunks_len > MAX_CHUNKS {
        wasmtime::bail!("a body of {chunks_len} chunks, more than {MAX_CHUNKS}");
    }
    let literal_bytes: usize = chunks.iter().map(literal_len).sum();
    if literal_bytes > MAX_LITERAL_BYTES {
        wasmtime::bail!("a body of {literal_bytes} literal bytes, more than {MAX_LITERAL_BYTES}");
    }
    Ok(())
}
