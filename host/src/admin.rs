//! The admin listener (off unless configured): `GET /metrics` in Prometheus text
//! format, `POST /admin/reload` to swap in new guests, `GET /health`.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::app::App;
use crate::response;
use crate::server::accept;

/// Serves the admin listener until the process ends.
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    loop {
        let stream = accept(&listener).await;
        let app = Arc::clone(&app);
        let service = service_fn(move |request| answer(Arc::clone(&app), request));
        tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
    }
}

async fn answer(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, Infallible> {
    Ok(match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => response::with_type(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            app.metrics.render(),
        ),
        (&Method::POST, "/admin/reload") => match app.reload().await {
            Ok(()) => response::json(StatusCode::OK, r#"{"reloaded":true}"#.to_owned()),
            Err(error) => response::error(StatusCode::UNPROCESSABLE_ENTITY, &format!("{error:#}")),
        },
        (&Method::GET, "/health") => {
            response::json(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
        }
        _ => response::error(StatusCode::NOT_FOUND, "Not found"),
    })
}
