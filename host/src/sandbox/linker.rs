//! What a guest is linked against: WASI granting nothing but the music dir (see
//! [`super::filesystem`]),
//! `wasi:http/types` without an outgoing handler, and tapedeck's own imports.

use anyhow::Result;
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi_http::WasiHttpView;

use super::filesystem;
use super::state::GuestState;
use crate::imports;

/// Links a guest against what a guest may import: WASI (granting nothing but the
/// music dir), `wasi:http/types` (but no outgoing handler), and tapedeck's own
/// imports.
pub fn linker(engine: &Engine) -> Result<Linker<GuestState>> {
    let mut linker = Linker::<GuestState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    filesystem::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<_, wasmtime_wasi_http::WasiHttp>(
        &mut linker,
        &Default::default(),
        GuestState::http,
    )?;
    imports::add_to_linker(&mut linker)?;
    Ok(linker)
}
