//! The wasi-http glue: reads the request, answers it with [`crate::api`] over the host's
//! filesystem ([`fs::HostDir`]), and hands the reply's body to the host's `file-body`.

use tapedeck_guest::headers::RequestHeaders;
use tapedeck_guest::reply::{Body, Chunk, Method, Reply};
use wasip2::http::types::{
    Fields, IncomingRequest, Method as HttpMethod, OutgoingResponse, ResponseOutparam,
};

use crate::api::{self, Request};
use crate::url;

mod bindings;
mod fs;

use bindings::exports::wasi::http::incoming_handler::Guest;
use bindings::tapedeck::server::file_body;
use fs::{HostDir, HostFile};

/// The request header naming the tenant's URL path prefix (`/alice`), set by the host.
const PREFIX_HEADER: &str = "x-tapedeck-prefix";

struct Glue;

impl Guest for Glue {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = match request.method() {
            HttpMethod::Get => Method::Get,
            HttpMethod::Head => Method::Head,
            _ => return send(Reply::method_not_allowed(), None, response_out),
        };
        let target = request.path_with_query().unwrap_or_default();
        // The fields are read in one host call; the prefix is set apart from the others.
        let (prefix, fields): (Vec<_>, Vec<_>) =
            request.headers().entries().into_iter().partition(|(name, _)| name == PREFIX_HEADER);
        let prefix = prefix.into_iter().next().and_then(|(_, value)| String::from_utf8(value).ok());
        let prefix = url::prefix(prefix.as_deref());
        let headers = RequestHeaders::from_fields(fields);
        let Some(dir) = HostDir::open() else {
            return send(Reply::server_error(), None, response_out);
        };
        let request = Request {
            method,
            target: &target,
            conditionals: headers.conditionals(),
            prefix: &prefix,
        };
        let answer = api::answer(&dir, &request);
        send(answer.reply, answer.file, response_out);
    }
}

/// Writes `reply`: its body goes through the host's `file-body`, spans of `file` included,
/// so the bytes of a picture stored raw never pass through the guest.
fn send(reply: Reply, file: Option<HostFile>, response_out: ResponseOutparam) {
    let fields: Vec<(String, Vec<u8>)> =
        reply.headers.into_iter().map(|(name, value)| (name.into(), value.into_bytes())).collect();
    // The policy writes only valid, allowed fields; all of them go in one host call.
    let Ok(headers) = Fields::from_list(&fields) else {
        return send(Reply::server_error(), None, response_out);
    };
    let response = OutgoingResponse::new(headers);
    _ = response.set_status_code(reply.status.code());
    match reply.body {
        Body::Empty => {}
        Body::Literal(bytes) => file_body::send(None, &[file_body::Chunk::Literal(bytes)]),
        Body::Representation(chunks) => {
            let chunks: Vec<file_body::Chunk> = chunks.into_iter().map(chunk).collect();
            file_body::send(file.as_ref().map(HostFile::descriptor), &chunks);
        }
    }
    ResponseOutparam::set(response_out, Ok(response));
}

fn chunk(chunk: Chunk) -> file_body::Chunk {
    match chunk {
        Chunk::Literal(bytes) => file_body::Chunk::Literal(bytes),
        Chunk::Span { start, len } => {
            file_body::Chunk::Span(file_body::Span { offset: start, length: len })
        }
    }
}
