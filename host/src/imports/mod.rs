//! tapedeck's own imports (`wit/tapedeck.wit`): what a guest asks of the host beyond WASI.
//!
//! They are written against [`ImportsView`], a view of the store's state that the
//! sandbox hands them, so an import knows the resource table and its own context but
//! nothing of the store that holds them.

pub mod bindings;
pub mod file_body;
pub mod transcode;

use std::sync::Arc;

use tokio::time::Instant;
use wasmtime::component::{HasData, Linker, ResourceTable};

use self::file_body::BodySlot;
use self::transcode::Transcoder;

/// What the imports of one request share.
pub struct ImportsCtx {
    /// Where a body import leaves the body of the response the guest sets next.
    pub body: BodySlot,
    /// The tenant's decoders.
    pub transcoder: Arc<Transcoder>,
    /// When the request times out; bodies the host makes end there too.
    pub deadline: Instant,
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

/// Refuses (with a trap) a body of more chunks or literal bytes than any guest needs.
fn check_body_size(chunks: usize, literal_bytes: usize) -> wasmtime::Result<()> {
    if chunks > MAX_CHUNKS {
        wasmtime::bail!("a body of {chunks} chunks, more than {MAX_CHUNKS}");
    }
    if literal_bytes > MAX_LITERAL_BYTES {
        wasmtime::bail!("a body of {literal_bytes} literal bytes, more than {MAX_LITERAL_BYTES}");
    }
    Ok(())
}

struct Imports;

impl HasData for Imports {
    type Data<'a> = ImportsCtxView<'a>;
}

/// Adds tapedeck's imports (`file-body`, `transcode`, `mp3`) to a guest linker.
pub fn add_to_linker<T: ImportsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    bindings::tapedeck::server::file_body::add_to_linker::<T, Imports>(linker, T::imports)?;
    bindings::tapedeck::server::transcode::add_to_linker::<T, Imports>(linker, T::imports)?;
    bindings::tapedeck::server::mp3::add_to_linker::<T, Imports>(linker, T::imports)
}
