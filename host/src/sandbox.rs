//! The sandbox a guest runs in: one engine and pre-instantiated component, and a
//! fresh store per request whose only capability is the read-only music dir.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http::StatusCode;
use hyper::body::Incoming;
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{CallHook, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::pacing::Progress;
use crate::transcode::Transcoder;
use crate::{bindings, file_body, response};

/// How often the epoch ticks: how often a running guest checks its CPU budget.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Time a request's guest may spend running wasm (not waiting on the host).
const CPU_BUDGET: Duration = Duration::from_secs(1);
/// Linear memory one guest instance may grow to.
const GUEST_MEMORY_LIMIT: usize = 64 << 20;
/// Bytes of each pooled memory, table and stack reset in place instead of decommitted.
const KEEP_RESIDENT: usize = 1 << 20;
/// Slots whose remaining pages are decommitted together.
const DECOMMIT_BATCH: usize = 32;
/// Guest instances that may exist at once (the pooling allocator's slots).
const MAX_INSTANCES: u32 = 1000;

/// A compiled guest ready to serve requests.
pub struct Sandbox {
    pre: ProxyPre<GuestState>,
    music_dir: PathBuf,
    transcoder: Arc<Transcoder>,
    request_timeout: Duration,
}

/// What one request's store holds.
pub struct GuestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoOutgoingRequests,
    pub(crate) table: ResourceTable,
    pub(crate) file_body: file_body::Slot,
    pub(crate) transcoder: Arc<Transcoder>,
    limits: StoreLimits,
    cpu: CpuMeter,
}

/// Time spent running wasm, measured at every crossing between wasm and the host:
/// a guest blocked in a host call (splicing a slow stream) is not using the CPU.
#[derive(Default)]
struct CpuMeter {
    used: Duration,
    running_since: Option<Instant>,
}

impl CpuMeter {
    fn crossing(&mut self, hook: CallHook) {
        let now = Instant::now();
        if hook.entering_host() {
            if let Some(since) = self.running_since.take() {
                self.used += now - since;
            }
        } else {
            self.running_since = Some(now);
        }
    }

    fn used(&self) -> Duration {
        self.used + self.running_since.map_or(Duration::ZERO, |since| since.elapsed())
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

/// The guest may not make HTTP requests: `wasi:http/outgoing-handler` is not even
/// linked, and this refuses anything that would reach the hook regardless.
struct NoOutgoingRequests;

impl WasiHttpHooks for NoOutgoingRequests {
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

impl Sandbox {
    /// Compiles `guest` (a component, `.wasm`) and links it against what a guest may import.
    pub fn new(
        guest: &[u8],
        music_dir: PathBuf,
        transcoder: Arc<Transcoder>,
        request_timeout: Duration,
    ) -> Result<Arc<Self>> {
        let engine = new_engine()?;
        let component = Component::new(&engine, guest)
            .map_err(anyhow::Error::from)
            .context("failed to compile the guest component")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<
            _,
            wasmtime_wasi_http::WasiHttp,
        >(&mut linker, &Default::default(), GuestState::http)?;
        bindings::add_to_linker(&mut linker)?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ProxyPre::new)
            .map_err(anyhow::Error::from)
            .context("the guest does not fit the tapedeck world")?;
        spawn_epoch_ticker(engine);
        Ok(Arc::new(Self { pre, music_dir, transcoder, request_timeout }))
    }

    /// Runs the guest on one request, in a store of its own.
    pub async fn handle(
        &self,
        request: hyper::Request<Incoming>,
        connection: Arc<Progress>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.run_guest(request, connection).await {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "guest failed");
                response::error(StatusCode::INTERNAL_SERVER_ERROR, "Server error")
            }
        }
    }

    async fn run_guest(
        &self,
        request: hyper::Request<Incoming>,
        connection: Arc<Progress>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let mut store = self.new_store(connection)?;
        let slot = store.data().file_body.clone();
        let (sender, receiver) = oneshot::channel();
        let request = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
        let outparam =
            store.data_mut().http().new_response_outparam_from_callback(move |result| {
                _ = sender.send(result.map(|response| slot.attach(response)));
            })?;
        let pre = self.pre.clone();
        // The guest runs in its own task: it may still be writing a body that this
        // task's caller has to pump to the client.
        let timeout = self.request_timeout;
        let guest = tokio::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await
            };
            // Dropping the store at the deadline ends the body and kills any decoder.
            tokio::time::timeout(timeout, run)
                .await
                .unwrap_or_else(|_| Err(wasmtime::format_err!("the request timed out")))
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => anyhow::bail!("the guest answered with an error: {code:?}"),
            Err(_) => match guest.await {
                Ok(Ok(())) => anyhow::bail!("the guest returned without a response"),
                Ok(Err(trap)) => Err(anyhow::Error::from(trap).context("the guest trapped")),
                Err(join) => Err(anyhow::Error::from(join).context("the guest task failed")),
            },
        }
    }

    fn new_store(&self, connection: Arc<Progress>) -> Result<Store<GuestState>> {
        // No env, no args, no network, no stdio: the read-only music dir is all.
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_blocking_current_thread(true)
            .preopened_dir(&self.music_dir, ".", FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .context("failed to open the music dir")?;
        let state = GuestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: NoOutgoingRequests,
            table: ResourceTable::new(),
            file_body: file_body::Slot::new(connection),
            transcoder: Arc::clone(&self.transcoder),
            limits: StoreLimitsBuilder::new().memory_size(GUEST_MEMORY_LIMIT).instances(16).build(),
            cpu: CpuMeter::default(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.call_hook(|mut store, hook| {
            store.data_mut().cpu.crossing(hook);
            Ok(())
        });
        // At each tick a running guest checks its budget, then yields to tokio so a
        // busy guest cannot hog a worker thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|store| {
            if store.data().cpu.used() > CPU_BUDGET {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(store)
    }
}

/// An engine with epoch interruption and, where the machine allows it, the
/// pooling allocator (per-request instantiation is then a few page resets).
fn new_engine() -> Result<Engine> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 4)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 4)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(GUEST_MEMORY_LIMIT)
        // Resetting a slot with madvise costs a TLB shootdown on every core per
        // request (the top of a profile of small range requests); zeroing the few
        // pages a guest dirtied, found with PAGEMAP_SCAN where the kernel has it,
        // and batching what is still decommitted costs far less.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .async_stack_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto)
        .decommit_batch_size(DECOMMIT_BATCH);
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(error) => {
            tracing::warn!(%error, "pooling allocator unavailable, allocating on demand");
            Engine::new(&config).map_err(anyhow::Error::from)
        }
    }
}

/// Advances the engine's epoch forever; guests measure their CPU budget in ticks.
fn spawn_epoch_ticker(engine: Engine) {
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("failed to spawn the epoch ticker thread");
}
