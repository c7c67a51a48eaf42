//! The admin listener (off unless configured): `GET /metrics` in Prometheus text
//! format, `POST /admin/reload` to swap in new guests, `GET /health`.

use std::convert::Infallible;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::response;
use crate::io::listen::accept;
use crate::tenants::app::App;
use crate::tenants::token_matches;

/// Serves the admin listener until the process ends; with a `token`, every request
/// but `/health` must carry it as `Authorization: Bearer`.
pub async fn serve(app: Arc<App>, listener: TcpListener, token: Option<String>) {
    let token: Option<Arc<str>> = token.map(Arc::from);
    loop {
        let stream = accept(&listener).await;
        let app = Arc::clone(&app);
        let token = token.clone();
        let service = service_fn(move |request| answer(Arc::clone(&app), token.clone(), request));
        tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
    }
}

async fn answer(
    app: Arc<App>,
    token: Option<Arc<str>>,
    request: Request<Incoming>,
) -> Result<Response<HyperOutgoingBody>, Infallible> {
    let path = request.uri().path();
    if let Some(token) = token
        && path != "/health"
        && !bearer(request.headers())
            .is_some_and(|offered| token_matches(offered, token.as_bytes()))
    {
        let mut response = response::error(StatusCode::UNAUTHORIZED, "Missing or wrong token");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(response);
    }
    Ok(match (request.method(), path) {
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

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim().as_bytes())
}
