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
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use wasip2::http::types::{
    Fields, IncomingRequest, Method as HttpMethod, OutgoingResponse, ResponseOutparam,
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

mod bump;
mod transcoded;

/// Each instance serves one request and is dropped whole: see [`bump`].
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump::new();

use tapedeck::server::file_body;
use transcoded::{transcode_error, transcoded};

/// URL prefix of files transcoded to WAV; checked before [`STREAM_PREFIX`].
const WAV_PREFIX: &str = "/stream/wav/";
/// URL prefix of files sent as they are.
const STREAM_PREFIX: &str = "/stream/";

struct Glue;

export!(Glue);

impl exports::wasi::http::incoming_handler::Guest for Glue {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (reply, source) = match request.method() {
            HttpMethod::Get => answer(&request, Method::Get),
            HttpMethod::Head => answer(&request, Method::Head),
            _ => (respond::error(405, "Method not allowed"), Source::None),
        };
        send(reply, source, response_out);
    }
}

/// Where the bytes of a [`Body::Representation`] come from.
enum Source {
    None,
    File(Descriptor),
    Transcode(transcoded::Decoding),
}

/// Decides the reply to a GET or HEAD, opening the file it names when there is one.
fn answer(request: &IncomingRequest, method: Method) -> (Reply, Source) {
    let target = request.path_with_query().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    let answered = if let Some(raw) = path.strip_prefix(WAV_PREFIX) {
        transcoded(request, method, raw)
    } else if let Some(raw) = path.strip_prefix(STREAM_PREFIX) {
        plain(request, method, raw)
    } else {
        Err(respond::error(404, "Not found"))
    };
    answered.unwrap_or_else(|error| (error.for_method(method), Source::None))
}

/// `/stream/<path>`: the file's own bytes.
fn plain(request: &IncomingRequest, method: Method, raw: &str) -> Result<(Reply, Source), Reply> {
    let relative = path::resolve(raw).map_err(|e| respond::error(e.status(), e.message()))?;
    let content_type = mime::audio_type(&relative).ok_or_else(not_found)?;
    let (file, stat) = open(&relative)?;
    let (secs, nanos) = modified(&stat);
    let etag = etag::strong(stat.size, secs, nanos);
    let representation = Representation {
        file_name: file_name(&relative),
        content_type,
        len: stat.size,
        modified_secs: secs,
        etag: &etag,
    };
    Ok((reply(request, method, &representation), Source::File(file)))
}

fn reply(request: &IncomingRequest, method: Method, representation: &Representation) -> Reply {
    let headers = RequestHeaders::read(request);
    respond::serve(method, &headers.conditionals(), headers.range.as_deref(), representation)
}

fn file_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

fn not_found() -> Reply {
    respond::error(404, "File not found")
}

fn modified(stat: &DescriptorStat) -> (u64, u32) {
    stat.data_modification_timestamp.map_or((0, 0), |time| (time.seconds, time.nanoseconds))
}

/// Opens `relative` under the music dir, following symlinks only while they stay
/// inside it (the host's preopen enforces that), and checks it is a regular file.
fn open(relative: &str) -> Result<(Descriptor, DescriptorStat), Reply> {
    let (music_dir, _) =
        get_directories().into_iter().next().ok_or_else(|| respond::error(500, "Server error"))?;
    let file = music_dir
        .open_at(PathFlags::SYMLINK_FOLLOW, relative, OpenFlags::empty(), DescriptorFlags::READ)
        .map_err(open_error)?;
    let stat = file.stat().map_err(open_error)?;
    if stat.type_ != DescriptorType::RegularFile {
        return Err(not_found());
    }
    Ok((file, stat))
}

/// The answer to a failed open: outside the music dir is 403, as in the original.
fn open_error(code: ErrorCode) -> Reply {
    match code {
        ErrorCode::NotPermitted | ErrorCode::Access | ErrorCode::Loop => {
            respond::error(403, "Invalid path")
        }
        ErrorCode::NoEntry
        | ErrorCode::NotDirectory
        | ErrorCode::IsDirectory
        | ErrorCode::NameTooLong => not_found(),
        ErrorCode::IllegalByteSequence | ErrorCode::Invalid => respond::error(400, "Invalid path"),
        _ => respond::error(500, "Server error"),
    }
}

/// The request headers the policy reads; repeated fields are joined with `, `
/// (RFC 9110 §5.3).
#[derive(Default)]
struct RequestHeaders {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    if_unmodified_since: Option<String>,
    if_range: Option<String>,
    range: Option<String>,
}

impl RequestHeaders {
    /// Reads the fields in one host call: a call per field cost more than all the
    /// rest of a small range request's policy.
    fn read(request: &IncomingRequest) -> Self {
        let mut headers = Self::default();
        let mut not_text = Vec::new();
        for (name, value) in request.headers().entries() {
            let Some(field) = headers.field(&name) else {
                continue;
            };
            match (String::from_utf8(value), field) {
                (Ok(value), Some(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                (Ok(value), field) => *field = Some(value),
                (Err(_), _) => not_text.push(name),
            }
        }
        // A field with a value that is not text is as good as absent.
        for name in not_text {
            if let Some(field) = headers.field(&name) {
                *field = None;
            }
        }
        headers
    }

    /// The field named `name` (wasi-http names are lower case), if the policy reads it.
    fn field(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "if-match" => &mut self.if_match,
            "if-none-match" => &mut self.if_none_match,
            "if-modified-since" => &mut self.if_modified_since,
            "if-unmodified-since" => &mut self.if_unmodified_since,
            "if-range" => &mut self.if_range,
            "range" => &mut self.range,
            _ => return None,
        })
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

/// Writes `reply`. Its body goes through the host's `file-body` or `transcode`, so
/// the guest never writes body bytes itself: a file's bytes never enter guest memory,
/// and the instance is done once the response is set.
fn send(reply: Reply, source: Source, response_out: ResponseOutparam) {
    let fields: Vec<(String, Vec<u8>)> =
        reply.headers.into_iter().map(|(name, value)| (name.into(), value.into_bytes())).collect();
    // The policy writes only valid, allowed fields; all of them go in one host call.
    let Ok(headers) = Fields::from_list(&fields) else {
        return send(respond::error(500, "Server error"), Source::None, response_out);
    };
    let response = OutgoingResponse::new(headers);
    _ = response.set_status_code(reply.status);
    match (reply.body, source) {
        (Body::Empty, _) => {}
        (Body::Literal(bytes), _) => file_body::send(None, &[file_body::Chunk::Literal(bytes)]),
        (Body::Representation(chunks), Source::File(file)) => {
            let chunks: Vec<file_body::Chunk> = chunks.into_iter().map(Into::into).collect();
            file_body::send(Some(&file), &chunks);
        }
        (Body::Representation(chunks), Source::Transcode(decoding)) => {
            // The host starts the first decoder now, so that a busy or missing decoder
            // still gets its own 503.
            if let Err(error) = decoding.send(chunks) {
                return send(transcode_error(error), Source::None, response_out);
            }
        }
        (Body::Representation(_), Source::None) => {
            unreachable!("a representation is answered with its source")
        }
    }
    ResponseOutparam::set(response_out, Ok(response));
}

impl From<Chunk> for file_body::Chunk {
    fn from(chunk: Chunk) -> Self {
        match chunk {
            Chunk::Literal(bytes) => Self::Literal(bytes),
            Chunk::Span { start, len } => {
                Self::Span(file_body::Span { offset: start, length: len })
            }
        }
    }
}
