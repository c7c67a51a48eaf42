//! The wasi-http glue: reads the request and the file through WASI, asks the pure
//! policy modules what to answer, and writes that answer. The only module that
//! touches bindings.
#![allow(
    unsafe_code,
    missing_docs,
    reason = "wit-bindgen's generated bindings and export are undocumented FFI"
)]

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use wasip2::http::types::{
    Fields, IncomingRequest, Method as HttpMethod, OutgoingBody, OutgoingResponse,
    ResponseOutparam,
};

use crate::precondition::Conditionals;
use crate::respond::{self, Body, Chunk, Method, Reply, Representation};
use crate::{etag, mime, path};

wit_bindgen::generate!({
    path: "../wit",
    world: "tapedeck:server/guest",
    with: {
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
        "wasi:filesystem/preopens@0.2.12": wasip2::filesystem::preopens,
        "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
        "wasi:http/types@0.2.12": wasip2::http::types,
    },
});

use tapedeck::server::file_body;

/// URL prefix of plain file streams.
const STREAM_PREFIX: &str = "/stream/";
/// The largest write `blocking-write-and-flush` accepts.
const MAX_BLOCKING_WRITE: usize = 4096;

struct Glue;

export!(Glue);

impl exports::wasi::http::incoming_handler::Guest for Glue {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (reply, file) = answer(&request);
        send(reply, file, response_out);
    }
}

/// Decides the reply to `request`, opening the file it names when there is one.
fn answer(request: &IncomingRequest) -> (Reply, Option<Descriptor>) {
    let method = match request.method() {
        HttpMethod::Get => Method::Get,
        HttpMethod::Head => Method::Head,
        _ => return (respond::error(405, "Method not allowed"), None),
    };
    let target = request.path_with_query().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    let Some(raw) = path.strip_prefix(STREAM_PREFIX) else {
        return (respond::error(404, "Not found"), None);
    };
    let relative = match path::resolve(raw) {
        Ok(relative) => relative,
        Err(error) => return (respond::error(error.status(), error.message()), None),
    };
    let file_name = relative.rsplit('/').next().unwrap_or_default();
    let Some(content_type) = mime::audio_type(file_name) else {
        return (respond::error(404, "File not found"), None);
    };
    let (file, stat) = match open(&relative) {
        Ok(opened) => opened,
        Err((status, message)) => return (respond::error(status, message), None),
    };
    let modified = stat.data_modification_timestamp.unwrap_or(wasip2::clocks::wall_clock::Datetime {
        seconds: 0,
        nanoseconds: 0,
    });
    let etag = etag::strong(stat.size, modified.seconds, modified.nanoseconds);
    let headers = RequestHeaders::read(request);
    let representation = Representation {
        file_name,
        content_type,
        len: stat.size,
        modified_secs: modified.seconds,
        etag: &etag,
    };
    let reply = respond::serve(method, &headers.conditionals(), headers.range.as_deref(), &representation);
    (reply, Some(file))
}

/// Opens `relative` under the music dir, following symlinks only while they stay
/// inside it (the host's preopen enforces that), and checks it is a regular file.
fn open(
    relative: &str,
) -> Result<(Descriptor, wasip2::filesystem::types::DescriptorStat), (u16, &'static str)> {
    let Some((music_dir, _)) = get_directories().into_iter().next() else {
        return Err((500, "Server error"));
    };
    let file = music_dir
        .open_at(PathFlags::SYMLINK_FOLLOW, relative, OpenFlags::empty(), DescriptorFlags::READ)
        .map_err(open_error)?;
    let stat = file.stat().map_err(open_error)?;
    if stat.type_ != DescriptorType::RegularFile {
        return Err((404, "File not found"));
    }
    Ok((file, stat))
}

/// The answer to a failed open: outside the music dir is 403, as in the original.
fn open_error(code: ErrorCode) -> (u16, &'static str) {
    match code {
        ErrorCode::NotPermitted | ErrorCode::Access | ErrorCode::Loop => (403, "Invalid path"),
        ErrorCode::NoEntry
        | ErrorCode::NotDirectory
        | ErrorCode::IsDirectory
        | ErrorCode::NameTooLong => (404, "File not found"),
        ErrorCode::IllegalByteSequence | ErrorCode::Invalid => (400, "Invalid path"),
        _ => (500, "Server error"),
    }
}

/// The request headers the policy reads; repeated fields are joined with `, `
/// (RFC 9110 §5.3).
struct RequestHeaders {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    if_unmodified_since: Option<String>,
    if_range: Option<String>,
    range: Option<String>,
}

impl RequestHeaders {
    fn read(request: &IncomingRequest) -> Self {
        let fields = request.headers();
        let get = |name: &str| {
            let values = fields.get(name);
            if values.is_empty() {
                return None;
            }
            let values: Result<Vec<String>, _> = values.into_iter().map(String::from_utf8).collect();
            values.ok().map(|values| values.join(", "))
        };
        Self {
            if_match: get("if-match"),
            if_none_match: get("if-none-match"),
            if_modified_since: get("if-modified-since"),
            if_unmodified_since: get("if-unmodified-since"),
            if_range: get("if-range"),
            range: get("range"),
        }
    }

    fn conditionals(&self) -> Conditionals<'_> {
        Conditionals {
            if_match: self.if_match.as_deref(),
            if_none_match: self.if_none_match.as_deref(),
            if_modified_since: self.if_modified_since.as_deref(),
            if_unmodified_since: self.if_unmodified_since.as_deref(),
            if_range: self.if_range.as_deref(),
        }
    }
}

/// Writes `reply`: file bytes go through the host's `file-body`, the rest through
/// the wasi-http body.
fn send(reply: Reply, file: Option<Descriptor>, response_out: ResponseOutparam) {
    let headers = Fields::new();
    for (name, value) in &reply.headers {
        // The policy writes only valid, allowed header fields.
        _ = headers.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(headers);
    _ = response.set_status_code(reply.status);
    match reply.body {
        Body::Empty => ResponseOutparam::set(response_out, Ok(response)),
        Body::Representation(chunks) => {
            let file = file.expect("a representation body comes with its file");
            file_body::send(&file, &chunks.into_iter().map(Into::into).collect::<Vec<_>>());
            ResponseOutparam::set(response_out, Ok(response));
        }
        Body::Literal(bytes) => {
            let body = response.body().expect("the body is taken once");
            ResponseOutparam::set(response_out, Ok(response));
            let stream = body.write().expect("the stream is taken once");
            for piece in bytes.chunks(MAX_BLOCKING_WRITE) {
                if stream.blocking_write_and_flush(piece).is_err() {
                    return; // The client went away.
                }
            }
            drop(stream);
            _ = OutgoingBody::finish(body, None);
        }
    }
}

impl From<Chunk> for file_body::Chunk {
    fn from(chunk: Chunk) -> Self {
        match chunk {
            Chunk::Literal(bytes) => Self::Literal(bytes),
            Chunk::Span { start, len } => Self::Span(file_body::Span { offset: start, length: len }),
        }
    }
}
