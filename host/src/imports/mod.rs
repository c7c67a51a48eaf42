//! tapedeck's own imports (`wit/tapedeck.wit`): what a guest asks of the host beyond WASI.
//!
//! They are written against [`ImportsView`], a view of the store's state that the
//! sandbox hands them, so an import knows the resource table and its own context but
//! nothing of the store that holds them.

pub mod bindings;
mod body_slot;
mod ctx;
mod decoders;
pub mod file_body;
pub mod transcode;

use wasmtime::component::{HasData, Linker};

pub use self::body_slot::BodySlot;
pub use self::ctx::{ImportsCtx, ImportsCtxView, ImportsView};
pub use self::decoders::Transcoder;

struct Imports;

impl HasData for Imports {
    type Data<'a> = ImportsCtxView<'a>;
}

/// Adds tapedeck's imports (`file-body`, `transcode`, `mp3`, `hls`) to a guest linker.
pub fn add_to_linker<T: ImportsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    bindings::tapedeck::server::file_body::add_to_linker::<T, Imports>(linker, T::imports)?;
    bindings::tapedeck::server::transcode::add_to_linker::<T, Imports>(linker, T::imports)?;
    bindings::tapedeck::server::mp3::add_to_linker::<T, Imports>(linker, T::imports)?;
    bindings::tapedeck::server::hls::add_to_linker::<T, Imports>(linker, T::imports)
}
