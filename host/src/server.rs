//! The HTTP listener: accepts connections, applies the host's own limits and
//! routes, hands everything else to the sandbox, and logs one line per request.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::pacing::{CountingStream, Progress};
use crate::response;
use crate::sandbox::Sandbox;

/// Longest request target accepted; longer gets 414 (RFC 9110 §15.5.15).
const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section accepted; larger gets 431 (RFC 6585 §5).
const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's per-connection buffer: the largest request head it reads, so that heads
/// past our own limits still get our JSON 414/431. Response bytes are bounded by
/// pacing instead (see `pacing`), so this does not cost memory per slow reader.
const MAX_REQUEST_HEAD: usize = 256 * 1024;
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long streams in flight may run on after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `listener` until SIGTERM or SIGINT, then drains connections and returns.
pub async fn run(listener: TcpListener, sandbox: Arc<Sandbox>) -> Result<()> {
    tracing::info!("listening on http://{}/", listener.local_addr()?);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Response heads and small bodies must not wait 40 ms for Nagle.
        _ = stream.set_nodelay(true);
        let (stream, progress) = CountingStream::new(stream);
        let sandbox = Arc::clone(&sandbox);
        let service =
            service_fn(move |request| route(Arc::clone(&sandbox), Arc::clone(&progress), request));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("streams still open after the grace period");
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("failed to install a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn route(
    sandbox: Arc<Sandbox>,
    connection: Arc<Progress>,
    request: Request<Incoming>,
) -> Result<Response<Logged>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let target = request.uri().path().to_owned();
    let response = if request.uri().to_string().len() > MAX_URI_BYTES {
        response::error(StatusCode::URI_TOO_LONG, "URI too long")
    } else if header_bytes(&request) > MAX_HEADER_BYTES {
        response::error(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "Request headers too large")
    } else if target == "/health" {
        health(&method)
    } else {
        sandbox.handle(request, connection).await
    };
    let (parts, body) = response.into_parts();
    let body = Logged { inner: body, method, target, status: parts.status, bytes: 0, started };
    Ok(Response::from_parts(parts, body))
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

/// A response body that logs the request's line when it is done or dropped (a
/// client that hangs up mid-stream is a normal end for a media request).
pub struct Logged {
    inner: HyperOutgoingBody,
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
        tracing::info!(
            method = %self.method,
            path = %self.target,
            status = self.status.as_u16(),
            bytes = self.bytes,
            ms = %format_args!("{:.2}", self.started.elapsed().as_secs_f64() * 1000.0),
            "request"
        );
    }
}
