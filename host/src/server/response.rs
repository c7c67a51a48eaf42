//! Responses the host writes itself: JSON errors and the health check.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// A JSON `{"error": message}` response. Client-facing messages are fixed strings,
/// never a path; the admin listener's may say why a reload was refused.
pub fn error(status: StatusCode, message: &str) -> Response<HyperOutgoingBody> {
    let mut escaped = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if c.is_control() => escaped.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    json(status, format!("{{\"error\":\"{escaped}\"}}"))
}

/// A JSON response with an exact `Content-Length`.
pub fn json(status: StatusCode, body: String) -> Response<HyperOutgoingBody> {
    with_type(status, "application/json", body)
}

/// A response of `content_type` with an exact `Content-Length`, never cached.
pub fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<HyperOutgoingBody> {
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
