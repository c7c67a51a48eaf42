//! The wasi-http glue, the thin layer over the bindings: reads the request, asks the pure
//! policy modules what to answer, calls the host's imports, and writes that answer. The only
//! module that touches bindings.

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};
use wasip2::http::types::{
    ErrorCode as HttpErrorCode, Fields, IncomingRequest, Method as HttpMethod, OutgoingResponse,
    ResponseOutparam,
};

use crate::headers::RequestHeaders;
use crate::open::OpenError;
use crate::path::PathError;
use crate::reply::{Body, Chunk, Method, Reply};
use crate::respond::{self, Representation};
use crate::route::{self, Route};
use crate::{etag, mime, path};

mod bindings;
mod bump;
mod hls;
mod mp3;
mod transcoded;

use bindings::tapedeck::server::file_body;

/// Each instance serves one request and is dropped whole: see [`bump`].
#[global_allocator]
static ALLOCATOR: bump::Bump = bump::Bump::new();

/// The component's `wasi:http/incoming-handler`, exported in [`bindings`].
struct Glue;

impl bindings::exports::wasi::http::incoming_handler::Guest for Glue {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let (reply, source) = match request.method() {
            HttpMethod::Get => answer(&request, Method::Get),
            HttpMethod::Head => answer(&request, Method::Head),
            _ => (Reply::method_not_allowed(), Source::None),
        };
        send(reply, source, response_out);
    }
}

/// Where the bytes of a [`Body::Representation`] come from.
enum Source {
    None,
    File(Descriptor),
    Transcode(transcoded::Decoding),
    Mp3(mp3::Encoding),
    /// Bytes written here: a playlist, an initialization segment.
    Bytes(Vec<u8>),
    /// A media segment: its header written here, its packets kept by the host.
    Segment(hls::EncodedSegment),
}

/// Decides the reply to a GET or HEAD, opening the file it names when there is one.
fn answer(request: &IncomingRequest, method: Method) -> (Reply, Source) {
    let target = request.path_with_query().unwrap_or_default();
    let answered = route::route(&target).and_then(|route| match route {
        Route::Plain(raw) => plain(request, method, raw),
        Route::Transcode(raw) => transcoded::transcoded(request, method, raw),
        Route::Mp3(raw, query) => mp3::encoded(request, method, raw, query),
        Route::Hls(raw, query) => hls::hls(request, method, raw, query),
    });
    answered.unwrap_or_else(|error| (error.for_method(method), Source::None))
}

/// `/stream/<path>`: the file's own bytes.
fn plain(request: &IncomingRequest, method: Method, raw: &str) -> Result<(Reply, Source), Reply> {
    let relative = path::resolve(raw)?;
    let content_type = mime::audio_type(&relative).ok_or(PathError::NotFound)?;
    let (file, stat) = open(&relative)?;
    let (secs, nanos) = modified(&stat);
    let etag = etag::strong(stat.size, secs, nanos);
    let representation = Representation {
        file_name: path::file_name(&relative),
        content_type,
        len: stat.size,
        modified_secs: secs,
        etag: &etag,
    };
    Ok((reply(request, method, &representation), Source::File(file)))
}

/// The reply to `request` for `representation`, by its conditional and Range fields.
fn reply(request: &IncomingRequest, method: Method, representation: &Representation) -> Reply {
    // All fields in one host call: a call per field cost more than all the rest of a small
    // range request's policy.
    let headers = RequestHeaders::from_fields(request.headers().entries());
    respond::serve(method, &headers.conditionals(), headers.range(), representation)
}

/// The 304 or 412 that `request`'s preconditions decide for `representation` alone, if they
/// do; see [`respond::decided_by_preconditions`].
fn decided_by_preconditions(
    request: &IncomingRequest,
    method: Method,
    representation: &Representation,
) -> Option<Reply> {
    let headers = RequestHeaders::from_fields(request.headers().entries());
    respond::decided_by_preconditions(method, &headers.conditionals(), representation)
}

/// The file's modification time in seconds and nanoseconds since the Unix epoch; the epoch
/// itself where the filesystem keeps none.
fn modified(stat: &DescriptorStat) -> (u64, u32) {
    stat.data_modification_timestamp.map_or((0, 0), |time| (time.seconds, time.nanoseconds))
}

/// Opens `relative` under the music dir, following symlinks only while they stay
/// inside it (the host's preopen enforces that), and checks it is a regular file.
fn open(relative: &str) -> Result<(Descriptor, DescriptorStat), Reply> {
    let (music_dir, _) = get_directories().into_iter().next().ok_or_else(Reply::server_error)?;
    let file = music_dir
        .open_at(PathFlags::SYMLINK_FOLLOW, relative, OpenFlags::empty(), DescriptorFlags::READ)
        .map_err(OpenError::from)?;
    let stat = file.stat().map_err(OpenError::from)?;
    if stat.type_ != DescriptorType::RegularFile {
        return Err(OpenError::NotRegularFile.into());
    }
    Ok((file, stat))
}

impl From<ErrorCode> for OpenError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::NotPermitted => Self::NotPermitted,
            ErrorCode::Access => Self::Access,
            ErrorCode::Loop => Self::Loop,
            ErrorCode::NoEntry => Self::NoEntry,
            ErrorCode::NotDirectory => Self::NotDirectory,
            ErrorCode::IsDirectory => Self::IsDirectory,
            ErrorCode::NameTooLong => Self::NameTooLong,
            ErrorCode::IllegalByteSequence => Self::IllegalByteSequence,
            ErrorCode::Invalid => Self::Invalid,
            ErrorCode::NoSuchDevice => Self::NoSuchDevice,
            ErrorCode::Busy => Self::Busy,
            _ => Self::Other,
        }
    }
}

/// Writes `reply`, or a 500 if it cannot be sent; a 500 that cannot be sent either becomes the
/// error the host reports. The body goes through the host's `file-body` or `transcode`, so
/// the guest never writes body bytes itself: a file's bytes never enter guest memory, and the
/// instance is done once the response is set.
fn send(reply: Reply, source: Source, response_out: ResponseOutparam) {
    let response = response(reply, source).or_else(|instead| response(instead, Source::None));
    ResponseOutparam::set(response_out, response.map_err(|_| HttpErrorCode::InternalError(None)));
}

/// The response for `reply`, with its body handed to the host; or the reply to send instead.
fn response(reply: Reply, source: Source) -> Result<OutgoingResponse, Reply> {
    let fields: Vec<(String, Vec<u8>)> =
        reply.headers.into_iter().map(|(name, value)| (name.into(), value.into_bytes())).collect();
    // The policy writes only valid, allowed fields; all of them go in one host call.
    let headers = Fields::from_list(&fields).map_err(|_| Reply::server_error())?;
    let response = OutgoingResponse::new(headers);
    _ = response.set_status_code(reply.status.code());
    match (reply.body, source) {
        (Body::Empty, _) => {}
        (Body::Literal(bytes), _) => file_body::send(None, &[file_body::Chunk::Literal(bytes)]),
        (Body::Representation(chunks), Source::File(file)) => {
            let chunks: Vec<file_body::Chunk> = chunks.into_iter().map(Into::into).collect();
            file_body::send(Some(&file), &chunks);
        }
        // The host starts the first decoder now, so that a busy or missing decoder still gets
        // its own 503.
        (Body::Representation(chunks), Source::Transcode(decoding)) => decoding.send(chunks)?,
        (Body::Representation(chunks), Source::Mp3(encoding)) => encoding.send(chunks)?,
        (Body::Representation(chunks), Source::Bytes(bytes)) => {
            let chunks: Vec<file_body::Chunk> =
                chunks.into_iter().map(|chunk| literal_chunk(chunk, &bytes)).collect();
            file_body::send(None, &chunks);
        }
        (Body::Representation(chunks), Source::Segment(segment)) => segment.send(chunks),
        (Body::Representation(_), Source::None) => {
            unreachable!("a representation is answered with its source")
        }
    }
    Ok(response)
}

/// `chunk` of a representation made of `bytes`, as bytes.
fn literal_chunk(chunk: Chunk, bytes: &[u8]) -> file_body::Chunk {
    match chunk {
        Chunk::Literal(literal) => file_body::Chunk::Literal(literal),
        Chunk::Span { start, len } => {
            file_body::Chunk::Literal(bytes[start as usize..(start + len) as usize].to_vec())
        }
    }
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
