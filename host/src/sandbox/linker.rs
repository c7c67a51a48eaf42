//! What a guest is linked against: WASI granting nothing but the music dir (see
//! [`super::filesystem`]),
//! `wasi:http/types` without an outgoing handler, and tapedeck's own imports.

use anyhow::Result;
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi_http::{WasiHttpHooks, WasiHttpView};

use super::filesystem;
use super::state::GuestState;
use crate::imports;

/// The guest may not make HTTP requests: `wasi:http/outgoing-handler` is not even
/// linked, and this refuses anything that would reach the hook regardless.
pub(super) struct NoOutgoingRequests;

impl WasiHttpHooks for NoOutgoingRequests {
    /// wasmtime-wasi-http's default set, without the default's `Arc` allocation per call
    /// (once for every header field the guest sets).
    fn is_forbidden_header(&mut self, name: &http::HeaderName) -> bool {
        wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }

    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
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
