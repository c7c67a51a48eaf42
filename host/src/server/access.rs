//! The access log: one line and the request's metrics when its response body ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::logging;
use crate::metrics::TenantMetrics;
use crate::tenants::app::App;

/// A response body that logs the request's line and counts it when it is done or
/// dropped (a client that hangs up mid-stream is a normal end for a media request).
/// It holds the tenant's request permit until then.
pub struct Logged {
    pub(super) inner: HyperOutgoingBody,
    pub(super) tenant: Option<TenantMetrics>,
    /// The tenant's place for a request in flight, when it was admitted.
    pub(super) admitted: Option<OwnedSemaphorePermit>,
    pub(super) app: Arc<App>,
    pub(super) method: Method,
    pub(super) target: String,
    pub(super) status: StatusCode,
    pub(super) bytes: u64,
    pub(super) started: Instant,
    /// When the request's time is up: the body ends there, short. A client that reads
    /// nothing at all is cut sooner, by the connection's send timeout.
    pub(super) deadline: Option<Instant>,
}

impl Body for Logged {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            self.deadline = None;
            if let Some(tenant) = &self.tenant {
                tenant.limit_hit("timeout");
            }
            return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpResponseIncomplete)));
        }
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
