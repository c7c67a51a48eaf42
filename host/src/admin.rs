//! The admin listener (off unless configured): `GET /metrics` in Prometheus text
//! format, `POST /admin/reload` to swap in new guests, `GET /health`.

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::app::App;
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
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            app.metrics.render(),
        ),
        (&Method::POST, "/admin/reload") => match app.reload().await {
            Ok(()) => {
                tracing::info!("reloaded");
                (StatusCode::OK, "application/json", r#"{"reloaded":true}"#.to_owned())
            }
            Err(error) => {
                let error = format!("{error:#}");
                tracing::error!(error, "reload refused, keeping the running guests");
                (StatusCode::UNPROCESSABLE_ENTITY, "application/json", json_error(&error))
            }
        },
        (&Method::GET, "/health") => {
            (StatusCode::OK, "application/json", r#"{"status":"ok"}"#.to_owned())
        }
        _ => (StatusCode::NOT_FOUND, "application/json", json_error("Not found")),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    Ok(response)
}

/// `{"error": message}` with the message escaped as a JSON string.
fn json_error(message: &str) -> String {
    let mut escaped = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if c.is_control() => escaped.push_str(&format!("\\u{:04x}", c as u32)),
            c => escaped.push(c),
        }
    }
    format!("{{\"error\":\"{escaped}\"}}")
}
