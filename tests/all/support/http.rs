//! A small HTTP/1.1 client over `TcpStream`: it shows exactly what went over the wire, which a
//! client library would smooth over (a body after a HEAD, a Content-Length that lies, bytes
//! after the end of a response). Response heads are parsed by `httparse`; the framing of the
//! body is checked here.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Longest any single read may block: a test fails instead of hanging on a stuck server.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// More header fields than any response of the server has.
const MAX_HEADERS: usize = 64;

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bytes the server sent after the framed end of the response (must be none).
    pub trailing: Vec<u8>,
}

impl Response {
    /// The value of header `name` (case-insensitive); several fields are joined with ", ".
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The value of header `name`, or a panic naming the response.
    #[track_caller]
    pub fn expect_header(&self, name: &str) -> String {
        self.header(name).unwrap_or_else(|| panic!("no `{name}` header in {}", self.summary()))
    }

    /// The `Content-Length` header as a number.
    #[track_caller]
    pub fn content_length(&self) -> u64 {
        let value = self.expect_header("content-length");
        value.parse().unwrap_or_else(|_| panic!("bad Content-Length `{value}`"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.summary()))
    }

    /// Status, headers and the start of the body, for failure messages.
    pub fn summary(&self) -> String {
        let headers: Vec<String> = self.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        format!(
            "{} [{}] body ({} bytes): {:?}",
            self.status,
            headers.join(" | "),
            self.body.len(),
            lossy(&self.body, 300)
        )
    }

    /// Asserts the response is a JSON error: `Content-Type: application/json` and a body
    /// `{"error": "<string>"}`. Returns the message.
    #[track_caller]
    pub fn expect_json_error(&self) -> String {
        self.json_error().unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// The message of a JSON error response, or what is wrong with it as one.
    pub fn json_error(&self) -> Result<String, String> {
        let content_type = self.header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return Err(format!("error response is not JSON: {}", self.summary()));
        }
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|json| json.get("error")?.as_str().map(str::to_owned))
            .ok_or_else(|| format!("not a JSON {{\"error\": \"...\"}} body: {}", self.summary()))
    }
}

/// How the body of a response ends (RFC 9112 §6.3).
pub(super) enum Framing {
    /// No body: a HEAD request, 1xx, 204, 304.
    Empty,
    Length(usize),
    Chunked,
    /// No Content-Length: the body runs to the end of the connection.
    UntilClose,
}

impl Framing {
    pub(super) fn of(head: &Response, head_request: bool) -> Result<Framing, String> {
        let status = head.status;
        if head_request || status == 304 || status == 204 || (100..200).contains(&status) {
            return Ok(Framing::Empty);
        }
        if head.header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            return Ok(Framing::Chunked);
        }
        match head.header("content-length") {
            Some(length) => length
                .parse()
                .map(Framing::Length)
                .map_err(|_| format!("bad Content-Length `{length}`")),
            None => Ok(Framing::UntilClose),
        }
    }
}

/// The response head at the start of `received` (with no body yet) and the offset of the
/// byte after it; `None` while the head is incomplete.
pub fn parse_head(received: &[u8]) -> Result<Option<(Response, usize)>, String> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut fields);
    let end = match head.parse(received) {
        Ok(httparse::Status::Complete(end)) => end,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad response head ({e}): {:?}", lossy(received, 300))),
    };
    let mut headers = Vec::with_capacity(head.headers.len());
    for field in head.headers.iter() {
        let value = std::str::from_utf8(field.value)
            .map_err(|_| format!("header `{}` is not UTF-8", field.name))?;
        headers.push((field.name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let status = head.code.expect("a complete head has a status");
    Ok(Some((Response { status, headers, body: Vec::new(), trailing: Vec::new() }, end)))
}

/// Parses one response from `received`. The body is framed by the status, the request method,
/// `Transfer-Encoding: chunked` or `Content-Length`, else it runs to the end; what follows
/// the framed body goes to `trailing`.
pub fn parse_response(received: &[u8], head_request: bool) -> Result<Response, String> {
    let (mut response, end) = parse_head(received)?.ok_or("no end of the response head")?;
    let rest = &received[end..];
    let used = match Framing::of(&response, head_request)? {
        Framing::Empty => 0,
        Framing::Length(length) => {
            if rest.len() < length {
                return Err(format!(
                    "connection closed after {} of {length} body bytes",
                    rest.len()
                ));
            }
            response.body = rest[..length].to_vec();
            length
        }
        Framing::Chunked => {
            let (body, used) = decode_chunked(rest)?;
            response.body = body;
            used
        }
        Framing::UntilClose => {
            response.body = rest.to_vec();
            rest.len()
        }
    };
    response.trailing = rest[used..].to_vec();
    Ok(response)
}

/// The data of a chunked body at the start of `input`, and how many bytes it took.
fn decode_chunked(input: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (line, size) = match httparse::parse_chunk_size(&input[at..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Err("unterminated chunk size line".into()),
            Err(_) => return Err(format!("bad chunk size line: {:?}", lossy(&input[at..], 40))),
        };
        at += line;
        if size == 0 {
            // Trailer fields, then an empty line.
            let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
            return match httparse::parse_headers(&input[at..], &mut fields) {
                Ok(httparse::Status::Complete((used, _))) => Ok((body, at + used)),
                _ => Err("unterminated chunked body".into()),
            };
        }
        let size = usize::try_from(size).map_err(|_| "chunk too large")?;
        let data = input.get(at..at + size).ok_or(format!("chunk of {size} bytes cut short"))?;
        body.extend_from_slice(data);
        at += size;
        if input.get(at..at + 2) != Some(b"\r\n") {
            return Err(format!("chunk of {size} bytes not followed by CRLF"));
        }
        at += 2;
    }
}

/// A request head: the request line, `Host`, `headers`, and the blank line.
pub(super) fn request_head(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head + "\r\n"
}

/// Sends one request with `Connection: close` and `Host: host`, and reads the response to
/// the end of the connection, so that any byte the server sends beyond the response's
/// framing is seen. `Err` says what went wrong on the wire: for load loops, where a refused
/// connection or a cut-off response is a failure to count, not the end of the test.
pub fn try_request(
    addr: SocketAddr,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    let length = body.map(|body| body.len().to_string());
    let mut headers = headers.to_vec();
    headers.push(("Connection", "close"));
    headers.extend(length.as_deref().map(|length| ("Content-Length", length)));
    let mut bytes = request_head(method, target, host, &headers).into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(|e| format!("timeout: {e}"))?;
    stream.write_all(&bytes).map_err(|e| format!("send: {e}"))?;
    let received = try_read_to_close(&mut stream)?;
    parse_response(&received, method == "HEAD")
        .map_err(|e| format!("{e}; received {:?}", lossy(&received, 2000)))
}

/// `try_request` to the address connected to, or a panic naming the request.
#[track_caller]
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    request_to(addr, &addr.to_string(), method, target, headers, body)
}

/// `try_request` with `Host: host`, or a panic naming the request.
#[track_caller]
pub fn request_to(
    addr: SocketAddr,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_request(addr, host, method, target, headers, body)
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"))
}

/// Writes `bytes` and returns everything the server sends until it closes the connection.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(bytes).expect("failed to send the request");
    read_to_close(&mut stream)
}

/// Writes `bytes` a few KiB at a time, stopping early once the server starts answering, then
/// reads the answer. For oversized requests: a server that rejects a request before reading
/// all of it closes with unread data, and the kernel's RST would destroy the response in
/// flight; writing slowly lets it read everything we sent before it decides.
pub fn exchange_slowly(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    for chunk in bytes.chunks(4096) {
        if answer_pending(&stream) || stream.write_all(chunk).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    read_to_close(&mut stream)
}

fn answer_pending(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let pending = stream.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0);
    stream.set_nonblocking(false).expect("blocking");
    pending
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("failed to connect to {addr}: {e}"));
    stream.set_read_timeout(Some(READ_TIMEOUT)).expect("read timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Reads until EOF. A reset after some bytes arrived ends the read like EOF does.
#[track_caller]
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    try_read_to_close(stream).unwrap_or_else(|e| panic!("reading the response failed {e}"))
}

fn try_read_to_close(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut received = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !received.is_empty() => {
                return Ok(received);
            }
            Err(e) => return Err(format!("after {} bytes: {e}", received.len())),
        }
    }
}

/// At most `max` bytes of `bytes` as text, for failure messages.
pub fn lossy(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

/// Every byte but the RFC 3986 unreserved characters (`ALPHA DIGIT - . _ ~`).
const NOT_UNRESERVED: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a relative library path for a `/stream/` URL: every byte but the RFC 3986
/// unreserved characters is escaped, `/` separators are kept.
pub fn pct_path(path: &str) -> String {
    path.split('/').map(pct_segment).collect::<Vec<_>>().join("/")
}

/// Percent-encodes every byte of `s` outside the RFC 3986 unreserved set (so `/` too).
pub fn pct_segment(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Decodes `%XX` escapes (for checking a `filename*` value).
pub fn pct_decode(s: &str) -> Vec<u8> {
    percent_decode_str(s).collect()
}
