//! A tenant's sandbox: its pre-instantiated guest, and a fresh store per request
//! whose only capability is the tenant's music dir, read-only, within its limits.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http::StatusCode;
use hyper::body::Incoming;
use tokio::sync::oneshot;
use wasmtime::component::{Component, HasData, Linker, Resource, ResourceTable};
use wasmtime::{CallHook, Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::filesystem::{Descriptor, Dir};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::{FsPerms, OpenMode, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::config::Limits;
use crate::metrics::TenantMetrics;
use crate::sendfile::Spans;
use crate::transcode::Transcoder;
use crate::{bindings, engine, file_body, response};

/// Core instances, tables and memories one guest may create: a Rust component
/// needs a handful; the cap stops a guest that would make thousands.
const MAX_GUEST_OBJECTS: usize = 32;

/// A tenant's compiled guest, ready to serve requests in its music dir.
pub struct Sandbox {
    pre: ProxyPre<GuestState>,
    /// The tenant's music dir, opened once; each store gets a handle to it.
    music_dir: Dir,
    transcoder: Arc<Transcoder>,
    limits: Limits,
    metrics: TenantMetrics,
    /// An instance made ahead of the request it will serve, so that instantiation
    /// is off the request's path (it costs more than the rest of a small request
    /// when the machine is otherwise idle). Each instance still serves one request.
    spare: Mutex<Option<Fresh>>,
    /// Whether a spare is being made.
    making_spare: AtomicBool,
}

/// A guest instantiated in a store of its own, not yet given a request.
struct Fresh {
    store: Store<GuestState>,
    proxy: Proxy,
    /// How long instantiation took, observed when a request gets the instance.
    instantiation: Duration,
}

/// What one request's store holds.
pub struct GuestState {
    wasi: WasiCtx,
    /// The guest's only preopen (see [`MusicDir`]).
    music_dir: Dir,
    http: WasiHttpCtx,
    hooks: NoOutgoingRequests,
    pub(crate) table: ResourceTable,
    pub(crate) file_body: file_body::Slot,
    pub(crate) transcoder: Arc<Transcoder>,
    /// When the request times out; bodies the host makes (transcodes) end there too.
    pub(crate) deadline: tokio::time::Instant,
    memory: MemoryCap,
    cpu: CpuMeter,
    cpu_budget: Duration,
}

/// The tenant's memory limit for one guest, remembering whether the guest hit it.
struct MemoryCap {
    limit: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }

    fn instances(&self) -> usize {
        MAX_GUEST_OBJECTS
    }

    fn tables(&self) -> usize {
        MAX_GUEST_OBJECTS
    }

    fn memories(&self) -> usize {
        MAX_GUEST_OBJECTS
    }
}

/// Time spent running wasm, measured at every crossing between wasm and the host:
/// a guest blocked in a host call (splicing a slow stream) is not using the CPU.
/// It counts epoch ticks, not nanoseconds: a crossing costs a load instead of a
/// clock read, and a burst of wasm counts a tick as often as it spans one, which
/// over many bursts adds up to the time spent.
#[derive(Default)]
struct CpuMeter {
    used_ticks: u64,
    running_since: Option<u64>,
}

impl CpuMeter {
    fn crossing(&mut self, hook: CallHook) {
        let now = engine::ticks();
        if hook.entering_host() {
            if let Some(since) = self.running_since.take() {
                self.used_ticks += now - since;
            }
        } else {
            self.running_since = Some(now);
        }
    }

    fn used(&self) -> Duration {
        let running = self.running_since.map_or(0, |since| engine::ticks() - since);
        let ticks = u32::try_from(self.used_ticks + running).unwrap_or(u32::MAX);
        engine::EPOCH_TICK.saturating_mul(ticks)
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

/// `wasi:filesystem/preopens` for a guest: its tenant's music dir, read-only, as
/// `.`. It replaces wasmtime-wasi's own, which reopens a path for every store (an
/// `open` and a `close` per request); this hands out the sandbox's one handle.
struct MusicDir;

impl HasData for MusicDir {
    type Data<'a> = MusicDirView<'a>;
}

struct MusicDirView<'a> {
    dir: &'a Dir,
    table: &'a mut ResourceTable,
}

impl preopens::Host for MusicDirView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let dir = self.table.push(Descriptor::Dir(self.dir.clone()))?;
        Ok(vec![(dir, ".".to_owned())])
    }
}

/// Links a guest against what a guest may import: WASI (granting nothing but the
/// music dir), `wasi:http/types` (but no outgoing handler), and tapedeck's own
/// imports.
pub fn linker(engine: &Engine) -> Result<Linker<GuestState>> {
    let mut linker = Linker::<GuestState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    linker.allow_shadowing(true);
    preopens::add_to_linker::<_, MusicDir>(&mut linker, |state| MusicDirView {
        dir: &state.music_dir,
        table: &mut state.table,
    })?;
    linker.allow_shadowing(false);
    wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<_, wasmtime_wasi_http::WasiHttp>(
        &mut linker,
        &Default::default(),
        GuestState::http,
    )?;
    bindings::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Opens `path` as a directory handle for the guest: read-only, and `O_PATH`, as
/// wasmtime-wasi opens a preopen (every access is relative to it).
fn open_dir(path: &Path) -> std::io::Result<Dir> {
    let flags = rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::PATH;
    let dir =
        std::fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path)?;
    Ok(Dir::new(dir, FsPerms::ReadOnly, OpenMode::READ, true))
}

impl Sandbox {
    /// Pre-instantiates `component` for a tenant; fails if it does not fit the world.
    pub fn new(
        linker: &Linker<GuestState>,
        component: &Component,
        music_dir: PathBuf,
        limits: Limits,
        metrics: TenantMetrics,
    ) -> Result<Self> {
        let pre = linker
            .instantiate_pre(component)
            .and_then(ProxyPre::new)
            .map_err(anyhow::Error::from)
            .context("the guest does not fit the tapedeck world")?;
        let transcoder = Transcoder::new(limits.max_decoders, metrics.clone());
        let music_dir = open_dir(&music_dir)
            .with_context(|| format!("failed to open the music dir `{}`", music_dir.display()))?;
        Ok(Self {
            pre,
            music_dir,
            transcoder,
            limits,
            metrics,
            spare: Mutex::new(None),
            making_spare: AtomicBool::new(false),
        })
    }

    /// Runs the guest on one request, in a store of its own.
    pub async fn handle(
        self: &Arc<Self>,
        request: hyper::Request<Incoming>,
        connection: Arc<Spans>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let started = Instant::now();
        let answer = self.run_guest(request, connection).await;
        self.metrics.handler.observe(started.elapsed().as_secs_f64());
        match answer {
            Ok(response) => response,
            Err(failure) => {
                let tenant = self.metrics.name();
                tracing::warn!(tenant, error = format!("{:#}", failure.error), "guest failed");
                self.metrics.traps.inc();
                match failure.limit {
                    Some(limit) => {
                        self.metrics.limit_hit(limit.name());
                        response::error(StatusCode::SERVICE_UNAVAILABLE, limit.message())
                    }
                    None => response::error(StatusCode::INTERNAL_SERVER_ERROR, "Server error"),
                }
            }
        }
    }

    async fn run_guest(
        self: &Arc<Self>,
        request: hyper::Request<Incoming>,
        connection: Arc<Spans>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, Failure> {
        let Fresh { mut store, proxy, .. } = self.fresh().await?;
        let slot = file_body::Slot::new(connection);
        store.data_mut().file_body = slot.clone();
        // The deadline counts from now, not from when the instance was made.
        store.set_epoch_deadline(1);
        let (sender, mut receiver) = oneshot::channel();
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam_from_callback(move |result| {
                _ = sender.send(result.map(|response| slot.attach(response)));
            })
            .map_err(|error| Failure::internal(error.into()))?;
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|error| Failure::internal(error.into()))?;
        // One deadline for the guest and for the bodies it hands the host.
        let deadline = tokio::time::Instant::now() + self.limits.request_timeout();
        store.data_mut().deadline = deadline;
        let mut guest = Box::pin(async move {
            let run = proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam);
            // Dropping the store at the deadline ends a body the guest is still writing.
            match tokio::time::timeout_at(deadline, run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => {
                    Err(Failure { limit: store.data().limit_hit(), error: error.into() })
                }
                Err(_) => Err(Failure {
                    limit: Some(Limit::Timeout),
                    error: anyhow::anyhow!("the request timed out"),
                }),
            }
        });
        // The guest runs in this task until it has answered, which is all tapedeck's
        // own guest needs (its bodies are the host's); a guest still writing its body
        // through `wasi:http` carries on in a task of its own while hyper sends it.
        let (answer, finished) = tokio::select! {
            biased;
            answer = &mut receiver => (answer.ok(), None),
            finished = &mut guest => (receiver.try_recv().ok(), Some(finished)),
        };
        let answer = match (answer, finished) {
            (Some(answer), None) => {
                tokio::spawn(guest);
                answer
            }
            (Some(answer), Some(_)) => answer,
            (None, finished) => {
                let finished = match finished {
                    Some(finished) => finished,
                    None => guest.await,
                };
                return Err(finished.err().unwrap_or_else(|| {
                    Failure::internal(anyhow::anyhow!("the guest returned without a response"))
                }));
            }
        };
        answer.map_err(|code| {
            Failure::internal(anyhow::anyhow!("the guest answered with an error: {code:?}"))
        })
    }

    /// An instance for a request: the spare if there is one, else one made now;
    /// either way another spare is then made in the background.
    async fn fresh(self: &Arc<Self>) -> Result<Fresh, Failure> {
        let spare = self.spare.lock().unwrap().take();
        let fresh = match spare {
            Some(fresh) => fresh,
            None => self.instantiate().await?,
        };
        self.metrics.instantiation.observe(fresh.instantiation.as_secs_f64());
        if !self.making_spare.swap(true, Ordering::AcqRel) {
            let sandbox = Arc::clone(self);
            tokio::spawn(async move {
                match sandbox.instantiate().await {
                    Ok(fresh) => *sandbox.spare.lock().unwrap() = Some(fresh),
                    // The next request makes its own and reports the failure.
                    Err(failure) => tracing::debug!(error = %failure.error, "no spare instance"),
                }
                sandbox.making_spare.store(false, Ordering::Release);
            });
        }
        Ok(fresh)
    }

    async fn instantiate(&self) -> Result<Fresh, Failure> {
        let mut store = self.new_store();
        let started = Instant::now();
        match self.pre.instantiate_async(&mut store).await {
            Ok(proxy) => Ok(Fresh { store, proxy, instantiation: started.elapsed() }),
            Err(error) => Err(Failure { limit: store.data().limit_hit(), error: error.into() }),
        }
    }

    fn new_store(&self) -> Store<GuestState> {
        // No env, no args, no network, no stdio, no preopens: `MusicDir` adds the
        // read-only music dir, and that is all.
        let wasi = WasiCtxBuilder::new().allow_blocking_current_thread(true).build();
        let state = GuestState {
            wasi,
            music_dir: self.music_dir.clone(),
            http: WasiHttpCtx::new(),
            hooks: NoOutgoingRequests,
            table: ResourceTable::new(),
            file_body: file_body::Slot::default(),
            transcoder: Arc::clone(&self.transcoder),
            deadline: tokio::time::Instant::now() + self.limits.request_timeout(),
            memory: MemoryCap { limit: self.limits.memory_bytes(), hit: false },
            cpu: CpuMeter::default(),
            cpu_budget: self.limits.cpu(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.memory);
        store.call_hook(|mut store, hook| {
            store.data_mut().cpu.crossing(hook);
            Ok(())
        });
        // At each tick a running guest checks its budget, then yields to tokio so a
        // busy guest cannot hog a worker thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|store| {
            if store.data().cpu_exceeded() {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }
}

impl GuestState {
    fn cpu_exceeded(&self) -> bool {
        self.cpu.used() > self.cpu_budget
    }

    fn limit_hit(&self) -> Option<Limit> {
        if self.cpu_exceeded() {
            Some(Limit::Cpu)
        } else if self.memory.hit {
            Some(Limit::Memory)
        } else {
            None
        }
    }
}

/// A tenant limit that stopped a request.
#[derive(Debug, Clone, Copy)]
enum Limit {
    Cpu,
    Memory,
    Timeout,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Cpu => "cpu",
            Limit::Memory => "memory",
            Limit::Timeout => "timeout",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Limit::Cpu => "The request used up its CPU budget",
            Limit::Memory => "The request used up its memory limit",
            Limit::Timeout => "The request timed out",
        }
    }
}

/// Why a guest gave no response, and which limit stopped it, if one did.
struct Failure {
    limit: Option<Limit>,
    error: anyhow::Error,
}

impl Failure {
    fn internal(error: anyhow::Error) -> Self {
        Self { limit: None, error }
    }
}
