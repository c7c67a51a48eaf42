//! The public HTTP listener: accepts connections, applies the host's own limits,
//! routes each request to its tenant (token, concurrency cap, path prefix), hands
//! it to that tenant's sandbox, and logs one line per request.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, watch};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::app::App;
use crate::metrics::TenantMetrics;
use crate::sendfile::{Socket, Spans};
use crate::workers::Workers;
use crate::{admin, logging, response};

/// Longest request target accepted; longer gets 414 (RFC 9110 §15.5.15).
const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section accepted; larger gets 431 (RFC 6585 §5).
const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's per-connection buffer: the largest request head it reads, so that heads
/// past our own limits still get our JSON 414/431. File bytes never sit in hyper's
/// buffers (see `sendfile`), so this does not cost memory per slow reader.
const MAX_REQUEST_HEAD: usize = 256 * 1024;
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the public listener on every worker (and the admin listener, if any, on
/// this thread) until SIGTERM or SIGINT, reloading on SIGHUP; then stops accepting,
/// lets streams in flight finish for up to `grace`, and returns.
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    admin: Option<TcpListener>,
    workers: &Workers,
    grace: Duration,
) -> Result<()> {
    tracing::info!("listening on http://{}/", listener.local_addr()?);
    if let Some(admin) = admin {
        tracing::info!("admin listening on http://{}/", admin.local_addr()?);
        tokio::spawn(admin::serve(Arc::clone(&app), admin));
    }
    tokio::spawn(reload_on_hangup(Arc::clone(&app)));
    let listener = listener.into_std()?;
    let (stop, stopped) = watch::channel(());
    let mut accepting = Vec::new();
    for worker in workers.handles() {
        let listener = listener.try_clone().context("failed to share the listener")?;
        let app = Arc::clone(&app);
        accepting.push(worker.spawn(accept_loop(app, listener, stopped.clone(), grace)));
    }
    drop(listener);
    shutdown_signal().await;
    tracing::info!("shutting down");
    _ = stop.send(());
    let mut all_closed = true;
    for worker in accepting {
        all_closed &= worker.await.unwrap_or(false);
    }
    if !all_closed {
        tracing::warn!("streams still open after the grace period");
    }
    Ok(())
}

/// One worker's accept loop: every worker waits on the same listener and serves
/// what it accepts itself, so a connection starts on a thread that was free to
/// take it, with no hand-off. Once `stop` fires, it stops accepting and gives its
/// connections up to `grace` to finish; returns whether they all did.
async fn accept_loop(
    app: Arc<App>,
    listener: std::net::TcpListener,
    mut stop: watch::Receiver<()>,
    grace: Duration,
) -> bool {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "a worker could not wait on the listener");
            return true;
        }
    };
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = accept(&listener) => accepted,
            _ = stop.changed() => break,
        };
        let (socket, spans) = Socket::new(stream);
        let app = Arc::clone(&app);
        let service =
            service_fn(move |request| route(Arc::clone(&app), Arc::clone(&spans), request));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            // Body buffers must be queued, not copied: `sendfile` fills their holes.
            .writev(true)
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(TokioIo::new(socket), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
        // One connection per turn: a burst of connections is shared among the
        // workers instead of going to whichever woke first.
        tokio::task::yield_now().await;
    }
    drop(listener);
    tokio::time::timeout(grace, graceful.shutdown()).await.is_ok()
}

/// The next connection, with Nagle off: response heads and small bodies must not
/// wait 40 ms for an ACK.
pub async fn accept(listener: &TcpListener) -> tokio::net::TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                _ = stream.set_nodelay(true);
                return stream;
            }
            Err(error) => {
                // Out of descriptors, say: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("failed to install a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// SIGHUP: re-read the config and swap in the new guests (deploy-time swap).
async fn reload_on_hangup(app: Arc<App>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("no SIGHUP handler: reload only through the admin listener");
        return;
    };
    while hangup.recv().await.is_some() {
        // The outcome is logged; a refused reload leaves the running guests serving.
        _ = app.reload().await;
    }
}

async fn route(
    app: Arc<App>,
    connection: Arc<Spans>,
    mut request: Request<Incoming>,
) -> Result<Response<Logged>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let target = request.uri().path().to_owned();
    let tenants = app.tenants();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| request.uri().host())
        .map(str::to_owned);
    let mut tenant_metrics = None;
    let mut admitted = None;
    let response = if uri_bytes(request.uri()) > MAX_URI_BYTES {
        response::error(StatusCode::URI_TOO_LONG, "URI too long")
    } else if header_bytes(&request) > MAX_HEADER_BYTES {
        response::error(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "Request headers too large")
    } else if target == "/health" {
        health(&method)
    } else if let Some((tenant, guest_path)) = tenants.route(host.as_deref(), &target) {
        tenant_metrics = Some(tenant.metrics.clone());
        if !tenant.authorized(request.headers(), request.uri()) {
            let mut response = response::error(StatusCode::UNAUTHORIZED, "Missing or wrong token");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        } else if let Some(permit) = tenant.admit() {
            tenant.metrics.streams.inc();
            admitted = Some(permit);
            if let Some(uri) = without_prefix(request.uri(), guest_path) {
                *request.uri_mut() = uri;
            }
            tenant.sandbox.handle(request, connection).await
        } else {
            let mut response =
                response::error(StatusCode::SERVICE_UNAVAILABLE, "Too many requests in flight");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    } else {
        response::error(StatusCode::NOT_FOUND, "No tenant serves this address")
    };
    let (parts, body) = response.into_parts();
    let body = Logged {
        inner: body,
        method,
        target,
        status: parts.status,
        bytes: 0,
        started,
        tenant: tenant_metrics,
        admitted,
        app,
    };
    Ok(Response::from_parts(parts, body))
}

/// The request's URI with the tenant's path prefix removed, as the guest sees it.
fn without_prefix(uri: &Uri, path: &str) -> Option<Uri> {
    if path.len() == uri.path().len() {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// The request target's length as sent, without formatting it.
fn uri_bytes(uri: &Uri) -> usize {
    let scheme = uri.scheme_str().map_or(0, |scheme| scheme.len() + "://".len());
    let authority = uri.authority().map_or(0, |authority| authority.as_str().len());
    scheme + authority + uri.path_and_query().map_or(0, |target| target.as_str().len())
}

fn header_bytes<B>(request: &Request<B>) -> usize {
    request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum()
}

/// `GET /health`: the host is up and accepting requests (for load balancers).
fn health(method: &Method) -> Response<HyperOutgoingBody> {
    let ok = || response::json(StatusCode::OK, r#"{"status":"ok"}"#.into());
    match *method {
        Method::GET => ok(),
        Method::HEAD => response::without_body(ok()),
        _ => response::method_not_allowed("GET, HEAD"),
    }
}

/// A response body that logs the request's line and counts it when it is done or
/// dropped (a client that hangs up mid-stream is a normal end for a media request).
/// It holds the tenant's request permit until then.
pub struct Logged {
    inner: HyperOutgoingBody,
    tenant: Option<TenantMetrics>,
    /// The tenant's place for a request in flight, when it was admitted.
    admitted: Option<OwnedSemaphorePermit>,
    app: Arc<App>,
    method: Method,
    target: String,
    status: StatusCode,
    bytes: u64,
    started: Instant,
}

impl Body for Logged {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let status = self.status.as_u16();
        let tenant = match &self.tenant {
            Some(metrics) => {
                metrics.request(status);
                metrics.bytes.inc_by(self.bytes);
                if self.admitted.is_some() {
                    metrics.streams.dec();
                }
                metrics.name()
            }
            None => {
                self.app.metrics.untenanted(status);
                "-"
            }
        };
        if logging::access_enabled() {
            let micros = self.started.elapsed().as_micros();
            logging::access(format_args!(
                "request tenant={tenant:?} method={} path={} status={status} bytes={} \
                     ms={}.{:02}",
                self.method,
                self.target,
                self.bytes,
                micros / 1000,
                micros % 1000 / 10,
            ));
        }
    }
}
