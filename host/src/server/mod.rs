//! The HTTP listeners: the public one on every worker (accept, host-side limits,
//! routing to tenants, the access log) and the admin one.

mod access;
mod admin;
mod response;
mod route;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::io::listen::accept;
use crate::io::sendfile::Socket;
use crate::io::workers::Workers;
use crate::tenants::app::App;

/// hyper's per-connection buffer: the largest request head it reads, so that heads
/// past our own limits still get our JSON 414/431. File bytes never sit in hyper's
/// buffers (see `sendfile`), so this does not cost memory per slow reader.
const MAX_REQUEST_HEAD: usize = 256 * 1024;
/// A client must send its request head within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How the listeners treat clients.
pub struct Settings {
    /// How long streams in flight may run on after SIGTERM.
    pub grace: Duration,
    /// Client connections open at once, across workers.
    pub max_connections: usize,
    /// How long a response may wait on a client that reads nothing.
    pub send_timeout: Duration,
    /// The bearer token of the admin listener, if it needs one.
    pub admin_token: Option<String>,
}

/// Serves the public listener on every worker (and the admin listener, if any, on
/// this thread) until SIGTERM or SIGINT, reloading on SIGHUP; then stops accepting,
/// lets streams in flight finish for up to the grace period, and returns.
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    admin: Option<TcpListener>,
    workers: &Workers,
    settings: Settings,
) -> Result<()> {
    tracing::info!("listening on http://{}/", listener.local_addr()?);
    if let Some(admin) = admin {
        tracing::info!("admin listening on http://{}/", admin.local_addr()?);
        tokio::spawn(admin::serve(Arc::clone(&app), admin, settings.admin_token.clone()));
    }
    let connections = Arc::new(Semaphore::new(settings.max_connections));
    tokio::spawn(reload_on_hangup(Arc::clone(&app)));
    let listener = listener.into_std()?;
    let (stop, stopped) = watch::channel(());
    let mut accepting = Vec::new();
    for worker in workers.handles() {
        let listener = listener.try_clone().context("failed to share the listener")?;
        let app = Arc::clone(&app);
        let accepting_here = AcceptLoop {
            app,
            connections: Arc::clone(&connections),
            send_timeout: settings.send_timeout,
            grace: settings.grace,
        };
        accepting.push(worker.spawn(accepting_here.run(listener, stopped.clone())));
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
/// take it, with no hand-off.
struct AcceptLoop {
    app: Arc<App>,
    /// Places for open connections, shared by all workers.
    connections: Arc<Semaphore>,
    send_timeout: Duration,
    grace: Duration,
}

/// What a connection past the cap gets before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    content-type: application/json\r\ncontent-length: 32\r\nretry-after: 1\r\n\
    connection: close\r\n\r\n{\"error\":\"Too many connections\"}";
/// How long a refused connection may take to read its 503.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

impl AcceptLoop {
    /// Accepts and serves until `stop` fires, then gives its connections up to the
    /// grace period to finish; returns whether they all did.
    async fn run(self, listener: std::net::TcpListener, mut stop: watch::Receiver<()>) -> bool {
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
            match Arc::clone(&self.connections).try_acquire_owned() {
                Ok(place) => self.serve(stream, place, &graceful),
                Err(_) => {
                    tracing::warn!("connection refused: at max_connections");
                    tokio::spawn(refuse(stream));
                }
            }
            // One connection per turn: a burst of connections is shared among the
            // workers instead of going to whichever woke first.
            tokio::task::yield_now().await;
        }
        drop(listener);
        tokio::time::timeout(self.grace, graceful.shutdown()).await.is_ok()
    }

    fn serve(
        &self,
        stream: tokio::net::TcpStream,
        place: OwnedSemaphorePermit,
        graceful: &GracefulShutdown,
    ) {
        let (socket, spans) = Socket::new(stream, self.send_timeout);
        let app = Arc::clone(&self.app);
        let service =
            service_fn(move |request| route::route(Arc::clone(&app), Arc::clone(&spans), request));
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
            drop(place);
        });
    }
}

/// Answers a connection past the cap with a 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let write = async {
        stream.write_all(TOO_MANY_CONNECTIONS).await?;
        stream.shutdown().await
    };
    _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
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
