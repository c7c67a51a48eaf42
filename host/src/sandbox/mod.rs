//! A tenant's sandbox: its pre-instantiated guest, and a fresh store per request
//! whose only capability is the tenant's music dir, read-only, within its limits.

pub mod engine;
mod filesystem;
mod limits;
mod linker;
mod state;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::filesystem::Dir;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};

use self::filesystem::open_music_dir;
pub use self::limits::Refusal;
use self::limits::{CpuMeter, Failure, Limit, MemoryCap};
pub use self::linker::linker;
pub use self::state::GuestState;
use self::state::NoOutgoingRequests;
use crate::config::Limits;
use crate::imports::BodySlot;
use crate::imports::ImportsCtx;
use crate::imports::Transcoder;
use crate::io::sendfile::Spans;
use crate::metrics::TenantMetrics;

/// How long a request waits for one of its tenant's instance places.
const INSTANCE_WAIT: Duration = Duration::from_secs(1);

/// A tenant's compiled guest, ready to serve requests in its music dir.
pub struct Sandbox {
    pre: ProxyPre<GuestState>,
    grants: Arc<Grants>,
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

/// What all of a tenant's guests share: its music dir, and its places for
/// instances and decoders.
pub struct Grants {
    /// The tenant's music dir, opened once; each store gets a handle to it.
    music_dir: Dir,
    /// The tenant's places for instances: its share of the host's pool.
    instances: Arc<Semaphore>,
    transcoder: Arc<Transcoder>,
}

impl Grants {
    /// Opens `music_dir` and makes the tenant's places by its `limits`.
    pub fn new(music_dir: &Path, limits: &Limits, metrics: &TenantMetrics) -> Result<Arc<Self>> {
        let dir = open_music_dir(music_dir)
            .with_context(|| format!("failed to open the music dir `{}`", music_dir.display()))?;
        Ok(Arc::new(Self {
            music_dir: dir,
            instances: Arc::new(Semaphore::new(
                (limits.max_instances + crate::config::SPARE_INSTANCES) as usize,
            )),
            transcoder: Transcoder::new(limits, metrics.clone()),
        }))
    }
}

impl Sandbox {
    /// Pre-instantiates `component` for a tenant; fails if it does not fit the world.
    pub fn new(
        linker: &Linker<GuestState>,
        component: &Component,
        grants: Arc<Grants>,
        limits: Limits,
        metrics: TenantMetrics,
    ) -> Result<Self> {
        let pre = linker
            .instantiate_pre(component)
            .and_then(ProxyPre::new)
            .map_err(anyhow::Error::from)
            .context("the guest does not fit the tapedeck world")?;
        Ok(Self {
            pre,
            grants,
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
    ) -> Result<hyper::Response<HyperOutgoingBody>, Refusal> {
        let started = Instant::now();
        let answer = self.run_guest(request, connection).await;
        self.metrics.handler.observe(started.elapsed().as_secs_f64());
        answer.map_err(|failure| {
            let tenant = self.metrics.name();
            tracing::warn!(tenant, error = format!("{:#}", failure.error), "guest failed");
            self.metrics.traps.inc();
            if let Some(limit) = failure.limit {
                self.metrics.limit_hit(limit.name());
            }
            Refusal::of(failure.limit)
        })
    }

    async fn run_guest(
        self: &Arc<Self>,
        request: hyper::Request<Incoming>,
        connection: Arc<Spans>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, Failure> {
        let Fresh { mut store, proxy, .. } = self.fresh().await?;
        let slot = BodySlot::new(connection);
        store.data_mut().imports.body = slot.clone();
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
        store.data_mut().imports.deadline = deadline;
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
        // The guest's host calls count too: a guest waiting on a clock is cut here, not
        // at the end of a long streaming timeout.
        let answer_by = deadline.min(tokio::time::Instant::now() + self.limits.guest_wall());
        let (answer, finished) = tokio::select! {
            biased;
            answer = &mut receiver => (answer.ok(), None),
            finished = &mut guest => (receiver.try_recv().ok(), Some(finished)),
            () = tokio::time::sleep_until(answer_by) => {
                return Err(Failure {
                    limit: Some(Limit::Wall),
                    error: anyhow::anyhow!("the guest did not answer in time"),
                });
            }
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
            None => self.instantiate(INSTANCE_WAIT).await?,
        };
        self.metrics.instantiation.observe(fresh.instantiation.as_secs_f64());
        if !self.making_spare.swap(true, Ordering::AcqRel) {
            let sandbox = Arc::clone(self);
            tokio::spawn(async move {
                match sandbox.instantiate(Duration::ZERO).await {
                    Ok(fresh) => *sandbox.spare.lock().unwrap() = Some(fresh),
                    // The next request makes its own and reports the failure.
                    Err(failure) => tracing::debug!(error = %failure.error, "no spare instance"),
                }
                sandbox.making_spare.store(false, Ordering::Release);
            });
        }
        Ok(fresh)
    }

    /// A new instance, once one of the tenant's places for one is free (waiting up to
    /// `wait` for it).
    async fn instantiate(&self, wait: Duration) -> Result<Fresh, Failure> {
        let place = Arc::clone(&self.grants.instances).acquire_owned();
        let Ok(Ok(place)) = tokio::time::timeout(wait, place).await else {
            return Err(Failure {
                limit: Some(Limit::Instances),
                error: anyhow::anyhow!("all of the tenant's instances are in use"),
            });
        };
        let mut store = self.new_store(place);
        let started = Instant::now();
        match self.pre.instantiate_async(&mut store).await {
            Ok(proxy) => Ok(Fresh { store, proxy, instantiation: started.elapsed() }),
            Err(error) => Err(Failure { limit: store.data().limit_hit(), error: error.into() }),
        }
    }

    fn new_store(&self, place: OwnedSemaphorePermit) -> Store<GuestState> {
        // No env, no args, no network, no stdio, no preopens: `MusicDir` adds the
        // read-only music dir, and that is all.
        let wasi = WasiCtxBuilder::new().allow_blocking_current_thread(true).build();
        let state = GuestState {
            wasi,
            music_dir: self.grants.music_dir.clone(),
            _place: place,
            opens: 0,
            http: WasiHttpCtx::new(),
            hooks: NoOutgoingRequests,
            table: ResourceTable::new(),
            imports: ImportsCtx {
                body: BodySlot::default(),
                transcoder: Arc::clone(&self.grants.transcoder),
                deadline: tokio::time::Instant::now() + self.limits.request_timeout(),
                packets: Default::default(),
            },
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
