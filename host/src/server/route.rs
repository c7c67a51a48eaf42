//! One request's way through the host: its size limits, `/health`, the tenant that
//! takes it (token, request cap, path prefix) and that tenant's sandbox.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use hyper::body::Incoming;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::access::Logged;
use super::response;
use crate::io::sendfile::Spans;
use crate::tenants::app::App;

/// Longest request target accepted; longer gets 414 (RFC 9110 §15.5.15).
const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section accepted; larger gets 431 (RFC 6585 §5).
const MAX_HEADER_BYTES: usize = 32 * 1024;

pub(super) async fn route(
    app: Arc<App>,
    connection: Arc<Spans>,
    mut request: Request<Incoming>,
) -> Result<Response<Logged>, Infallible> {
    let started = Instant::now();
    // A response before on this connection may have been paced; this one is not, unless
    // its tenant says so below.
    connection.pace.start(None);
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
    let mut deadline = None;
    let response = if uri_bytes(request.uri()) > MAX_URI_BYTES {
        response::error(StatusCode::URI_TOO_LONG, "URI too long")
    } else if header_bytes(&request) > MAX_HEADER_BYTES {
        response::error(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "Request headers too large")
    } else if target == "/health" {
        health(&method)
    } else if let Some((tenant, guest_path)) = tenants.route(host.as_deref(), &target) {
        tenant_metrics = Some(tenant.metrics.clone());
        if guest_path.is_empty() {
            to_slash(request.uri())
        } else if !tenant.authorized(request.headers(), request.uri()) {
            let mut response = response::error(StatusCode::UNAUTHORIZED, "Missing or wrong token");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        } else if let Some(permit) = tenant.admit() {
            tenant.metrics.streams.inc();
            admitted = Some(permit);
            deadline = Some(started + tenant.request_timeout);
            if let Some(uri) = without_prefix(request.uri(), guest_path) {
                *request.uri_mut() = uri;
            }
            let headers = request.headers_mut();
            // HTTP/1.0 allows a request without Host; wasi-http needs an authority.
            if host.is_none() {
                headers.insert(header::HOST, HeaderValue::from_static("localhost"));
            }
            // Only the host says what the prefix is.
            headers.remove(PREFIX_HEADER);
            let (sandbox, library) = tenant.sandbox_for(guest_path);
            if library && let Ok(prefix) = HeaderValue::try_from(tenant.path_prefix()) {
                headers.insert(PREFIX_HEADER, prefix);
            }
            // Set before the guest runs: a transcode narrows it to its own pace.
            if tenant.pace.is_some() {
                connection.pace.start(tenant.pace);
            }
            let mut response = match sandbox.handle(request, connection).await {
                Ok(response) => response,
                Err(refusal) => response::error(refusal.status, refusal.message),
            };
            if tenant.has_token() {
                private_cache(response.headers_mut());
            }
            response
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
        deadline,
        app,
    };
    Ok(Response::from_parts(parts, body))
}

/// The request header that tells the library guest its tenant's path prefix.
const PREFIX_HEADER: &str = "x-tapedeck-prefix";

/// `308` from a tenant's prefix alone (`/alice`) to its page (`/alice/`), so that the
/// page's relative links resolve under the prefix.
fn to_slash(uri: &Uri) -> Response<HyperOutgoingBody> {
    let location = match uri.query() {
        Some(query) => format!("{}/?{query}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut response = response::error(StatusCode::PERMANENT_REDIRECT, "Moved to the folder");
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// A response for one token holder must not sit in a shared cache, where another
/// client could be served it without the token.
fn private_cache(headers: &mut http::HeaderMap) {
    let Some(value) = headers.get(header::CACHE_CONTROL) else { return };
    let Some(rest) = value.to_str().ok().and_then(|value| value.strip_prefix("public")) else {
        return;
    };
    if let Ok(private) = HeaderValue::try_from(format!("private{rest}")) {
        headers.insert(header::CACHE_CONTROL, private);
    }
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
