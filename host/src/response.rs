//! Responses the host writes itself: JSON errors and the health check.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// A JSON `{"error": message}` response; `message` is a fixed string, never a path.
pub fn error(status: StatusCode, message: &str) -> Response<HyperOutgoingBody> {
    json(status, format!("{{\"error\":\"{message}\"}}"))
}

/// A JSON response with an exact `Content-Length`.
pub fn json(status: StatusCode, body: String) -> Response<HyperOutgoingBody> {
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CONTENT_LENGTH, length);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `405 Method Not Allowed` naming the methods a resource takes.
pub fn method_not_allowed(allow: &'static str) -> Response<HyperOutgoingBody> {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The same response with its body removed, for HEAD.
pub fn without_body(response: Response<HyperOutgoingBody>) -> Response<HyperOutgoingBody> {
    response.map(|_| Empty::new().map_err(|never| match never {}).boxed_unsync())
}

fn full(body: String) -> HyperOutgoingBody {
    Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync()
}
