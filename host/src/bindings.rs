//! Host bindings of tapedeck's own WIT interfaces (`wit/tapedeck.wit`), generated.
#![allow(missing_docs, reason = "generated code")]

use wasmtime::component::{HasSelf, Linker};

use crate::sandbox::GuestState;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tapedeck:server/host",
    imports: { default: async | trappable },
    require_store_data_send: true,
    with: {
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

/// Adds tapedeck's imports (`file-body`, `transcode`) to a guest linker.
pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    tapedeck::server::file_body::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    tapedeck::server::transcode::add_to_linker::<_, HasSelf<_>>(linker, |state| state)
}
