//! What one request's store holds, and the views of it that WASI, wasi-http and
//! tapedeck's imports work on.

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::limits::{CpuMeter, Limit, MemoryCap};
use crate::imports::{ImportsCtx, ImportsCtxView, ImportsView};

/// What one request's store holds.
pub struct GuestState {
    pub(super) wasi: WasiCtx,
    /// The place this instance holds among its tenant's, given back with the store.
    pub(super) _place: OwnedSemaphorePermit,
    /// The guest's only preopen (see [`super::filesystem`]).
    pub(super) music_dir: Dir,
    /// Files and directories the guest has opened in this request.
    pub(super) opens: u32,
    pub(super) http: WasiHttpCtx,
    pub(super) hooks: NoOutgoingRequests,
    pub(super) table: ResourceTable,
    pub(super) imports: ImportsCtx,
    pub(super) memory: MemoryCap,
    pub(super) cpu: CpuMeter,
    pub(super) cpu_budget: Duration,
}

impl GuestState {
    pub(super) fn cpu_exceeded(&self) -> bool {
        self.cpu.used() > self.cpu_budget
    }

    pub(super) fn limit_hit(&self) -> Option<Limit> {
        if self.cpu_exceeded() {
            Some(Limit::Cpu)
        } else if self.memory.hit {
            Some(Limit::Memory)
        } else {
            None
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl ImportsView for GuestState {
    fn imports(&mut self) -> ImportsCtxView<'_> {
        ImportsCtxView { table: &mut self.table, ctx: &mut self.imports }
    }
}

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
