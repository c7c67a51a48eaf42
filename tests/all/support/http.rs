//! A small HTTP/1.1 client over `TcpStream`: it shows exactly what went over the wire, which a
//! client library would smooth over (a body after a HEAD, a Content-Length that lies, bytes
//! after the end of a response).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Longest any single read may block: a test fails instead of hanging on a stuck server.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

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
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]);
        format!(
            "{} [{}] body ({} bytes): {body:?}",
            self.status,
            headers.join(" | "),
            self.body.len()
        )
    }

    /// Asserts the response is a JSON error: `Content-Type: application/json` and a body
    /// `{"error": "<string>"}`. Returns the message.
    #[track_caller]
    pub fn expect_json_error(&self) -> String {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "error response is not JSON: {}",
            self.summary()
        );
        let json = self.json();
        json.get("error")
            .and_then(|e| e.as_str())
            .unwrap_or_else(|| panic!("no string `error` member: {}", self.summary()))
            .to_owned()
    }
}

/// A request head: the request line, `Host`, `headers`, and the blank line.
fn request_head(method: &str, target: &str, host: &str, headers: &[(&str, &str)]) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head + "\r\n"
}

/// Sends one request with `Connection: close` and reads the response to the end of the
/// connection, so that any byte the server sends beyond the response's framing is seen.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    request_to(addr, &addr.to_string(), method, target, headers, body)
}

/// `request` with `Host: host` instead of the address connected to.
pub fn request_to(
    addr: SocketAddr,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let length = body.map(|body| body.len().to_string());
    let mut headers = headers.to_vec();
    headers.push(("Connection", "close"));
    headers.extend(length.as_deref().map(|length| ("Content-Length", length)));
    let mut bytes = request_head(method, target, host, &headers).into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    let received = exchange(addr, &bytes);
    parse_response(&received, method == "HEAD")
        .unwrap_or_else(|e| panic!("{method} {target}: {e}; received {:?}", lossy(&received, 2000)))
}

/// `request_to` that reports what went wrong instead of panicking: for load loops, where a
/// refused connection or a cut-off response is a failure to count, not the end of the test.
pub fn try_request_to(
    addr: SocketAddr,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let mut headers = headers.to_vec();
    headers.push(("Connection", "close"));
    let head = request_head("GET", target, host, &headers);
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(|e| format!("timeout: {e}"))?;
    stream.write_all(head.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .map_err(|e| format!("read after {} bytes: {e}", received.len()))?;
    let response = parse_response(&received, false)?;
    if !response.trailing.is_empty() {
        return Err(format!("{} bytes after the response", response.trailing.len()));
    }
    Ok(response)
}

/// Sends a GET, reads the response head and at most `max_body` bytes of its body, then drops
/// the connection mid-body, as Chromium does all the time. The body holds what was read.
pub fn get_prefix(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
    max_body: usize,
) -> Response {
    let head = request_head("GET", target, &addr.to_string(), headers);
    let mut stream = connect(addr);
    stream.write_all(head.as_bytes()).expect("failed to send the request");
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            let length = parse_response(&received[..end + 4], true)
                .ok()
                .and_then(|r| r.header("content-length").and_then(|l| l.parse::<usize>().ok()));
            let wanted = length.map_or(max_body, |l| l.min(max_body));
            if received.len() - end - 4 >= wanted {
                let mut response =
                    parse_response(&received[..end + 4], true).expect("response head");
                response.body = received[end + 4..end + 4 + wanted].to_vec();
                return response;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => panic!("GET {target}: connection closed early: {:?}", lossy(&received, 500)),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => panic!("GET {target}: read failed after {} bytes: {e}", received.len()),
        }
    }
}

/// GETs `target` and reads the whole body without keeping it: returns the response (with an
/// empty body), the number of body bytes received and the last 16 of them.
pub fn get_counted(addr: SocketAddr, target: &str) -> (Response, u64, Vec<u8>) {
    let mut stream = connect(addr);
    let request = request_head("GET", target, &addr.to_string(), &[("Connection", "close")]);
    stream.write_all(request.as_bytes()).expect("failed to send the request");
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let mut count = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("GET {target}: read failed after {count} body bytes: {e}"),
        };
        let mut data = &buf[..n];
        if !head.ends_with(b"\r\n\r\n") {
            head.extend_from_slice(data);
            let Some(end) = find(&head, b"\r\n\r\n") else {
                continue;
            };
            data = &buf[n - (head.len() - end - 4)..n];
            head.truncate(end + 4);
        }
        count += data.len() as u64;
        tail.extend_from_slice(data);
        tail.drain(..tail.len().saturating_sub(16));
    }
    let response = parse_response(&head, true).expect("response head");
    (response, count, tail)
}

/// A GET read the way a browser reads one: the head, then as many body bytes as it wants.
/// Dropping it closes the socket mid-body, the abort Chromium does all the time.
pub struct OpenStream {
    pub socket: TcpStream,
    pub head: Response,
    /// Body bytes received and not yet taken.
    pub pending: Vec<u8>,
    /// Body bytes taken so far.
    pub taken: u64,
    target: String,
}

impl OpenStream {
    /// Sends `GET target` and reads the response head.
    #[track_caller]
    pub fn open(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> OpenStream {
        Self::open_to(addr, &addr.to_string(), target, headers)
    }

    /// `open` with `Host: host`.
    #[track_caller]
    pub fn open_to(
        addr: SocketAddr,
        host: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> OpenStream {
        let request = request_head("GET", target, host, headers);
        let mut socket = connect(addr);
        socket.write_all(request.as_bytes()).expect("failed to send the request");
        let mut received = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let end = loop {
            if let Some(end) = find(&received, b"\r\n\r\n") {
                break end;
            }
            match socket.read(&mut buf) {
                Ok(0) => panic!("GET {target}: closed before a response head: {received:?}"),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) => panic!("GET {target}: no response head: {e}"),
            }
        };
        let head = parse_response(&received[..end + 4], true)
            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
        let pending = received[end + 4..].to_vec();
        OpenStream { socket, head, pending, taken: 0, target: target.to_owned() }
    }

    /// The next `n` body bytes.
    #[track_caller]
    pub fn read(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; 64 * 1024];
        while self.pending.len() < n {
            match self.socket.read(&mut buf) {
                Ok(0) => panic!(
                    "GET {}: connection closed after {} body bytes, {n} more wanted",
                    self.target,
                    self.taken + self.pending.len() as u64
                ),
                Ok(got) => self.pending.extend_from_slice(&buf[..got]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("GET {}: read failed: {e}", self.target),
            }
        }
        self.taken += n as u64;
        self.pending.drain(..n).collect()
    }

    /// The rest of the body, up to the server closing the connection (send
    /// `Connection: close`); any byte beyond Content-Length fails.
    #[track_caller]
    pub fn rest(mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.pending);
        rest.extend(read_to_close(&mut self.socket));
        let length = self.head.content_length();
        assert_eq!(
            self.taken + rest.len() as u64,
            length,
            "GET {}: body bytes sent vs Content-Length",
            self.target
        );
        rest
    }
}

/// One persistent connection, for clients that reuse it request after request. Responses
/// must carry a `Content-Length`.
pub struct KeepAlive {
    addr: SocketAddr,
    stream: TcpStream,
    /// Bytes received past the end of the last response.
    buffered: Vec<u8>,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> KeepAlive {
        KeepAlive { addr, stream: connect(addr), buffered: Vec::new() }
    }

    /// `GET target` on this connection; `Err` says what went wrong on the wire.
    pub fn get(&mut self, target: &str) -> Result<Response, String> {
        self.get_with(target, &[])
    }

    /// `get` with extra request headers.
    pub fn get_with(&mut self, target: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
        let request = request_head("GET", target, &self.addr.to_string(), headers);
        self.stream.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
        let mut buf = [0u8; 64 * 1024];
        let mut wanted = None;
        loop {
            if wanted.is_none()
                && let Some(end) = find(&self.buffered, b"\r\n\r\n")
            {
                let head = parse_response(&self.buffered[..end + 4], true)?;
                let length = head
                    .header("content-length")
                    .and_then(|l| l.parse::<usize>().ok())
                    .ok_or_else(|| format!("no Content-Length: {}", head.summary()))?;
                wanted = Some(end + 4 + length);
            }
            if let Some(total) = wanted
                && self.buffered.len() >= total
            {
                let rest = self.buffered.split_off(total);
                let response = parse_response(&self.buffered, false)?;
                self.buffered = rest;
                return Ok(response);
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(format!("closed after {} bytes", self.buffered.len())),
                Ok(n) => self.buffered.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }
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
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !received.is_empty() => {
                return received;
            }
            Err(e) => panic!("reading the response failed after {} bytes: {e}", received.len()),
        }
    }
}

/// Parses one response from `received`. The body is framed by the status, the request method,
/// `Transfer-Encoding: chunked` or `Content-Length`, else it runs to the end; what follows
/// the framed body goes to `trailing`.
pub fn parse_response(received: &[u8], head_request: bool) -> Result<Response, String> {
    let end = find(received, b"\r\n\r\n").ok_or("no end of the response head")?;
    let head = std::str::from_utf8(&received[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("bad status line `{status_line}`"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) =
            line.split_once(':').ok_or_else(|| format!("bad header line `{line}`"))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response { status, headers, body: Vec::new(), trailing: Vec::new() };
    let rest = &received[end + 4..];
    let no_body = head_request || status == 304 || status == 204 || (100..200).contains(&status);
    if no_body {
        response.trailing = rest.to_vec();
    } else if response
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        let (body, used) = decode_chunked(rest)?;
        response.body = body;
        response.trailing = rest[used..].to_vec();
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().map_err(|_| format!("bad Content-Length `{length}`"))?;
        if rest.len() < length {
            return Err(format!("connection closed after {} of {length} body bytes", rest.len()));
        }
        response.body = rest[..length].to_vec();
        response.trailing = rest[length..].to_vec();
    } else {
        response.body = rest.to_vec();
    }
    Ok(response)
}

fn decode_chunked(mut input: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let total = input.len();
    let mut body = Vec::new();
    loop {
        let line_end = find(input, b"\r\n").ok_or("unterminated chunk size line")?;
        let size_text = std::str::from_utf8(&input[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size `{size_text}`"))?;
        input = &input[line_end + 2..];
        if size == 0 {
            // Trailer fields, then an empty line.
            let trailer_end = find(input, b"\r\n").ok_or("unterminated chunked body")?;
            let mut used = trailer_end + 2;
            if trailer_end != 0 {
                used = find(input, b"\r\n\r\n").ok_or("unterminated trailers")? + 4;
            }
            return Ok((body, total - input.len() + used));
        }
        if input.len() < size + 2 {
            return Err(format!("chunk of {size} bytes cut short"));
        }
        body.extend_from_slice(&input[..size]);
        input = &input[size + 2..];
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn lossy(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

/// Percent-encodes a relative library path for a `/stream/` URL: every byte but the RFC 3986
/// unreserved characters is escaped, `/` separators are kept.
pub fn pct_path(path: &str) -> String {
    path.split('/').map(pct_segment).collect::<Vec<_>>().join("/")
}

/// Percent-encodes every byte of `s` outside the RFC 3986 unreserved set (so `/` too).
pub fn pct_segment(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (for checking a `filename*` value).
pub fn pct_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    /// First byte, last byte, complete length, from the part's `Content-Range`.
    pub first: u64,
    pub last: u64,
    pub complete: u64,
    pub data: Vec<u8>,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Parses a `multipart/byteranges` body (RFC 9110 §14.6) with the boundary from
/// `content_type`. Each part's length comes from its `Content-Range`, so a boundary string
/// inside the data cannot confuse the parser; a part whose data is not followed by a
/// delimiter is an error.
pub fn parse_byteranges(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let (media_type, params) = content_type.split_once(';').ok_or("no boundary parameter")?;
    if !media_type.trim().eq_ignore_ascii_case("multipart/byteranges") {
        return Err(format!("media type `{media_type}`"));
    }
    let boundary = params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .ok_or("no boundary parameter")?;
    let delimiter = format!("--{boundary}");
    let start = find(body, delimiter.as_bytes()).ok_or("no first delimiter")?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        rest = rest.strip_prefix(b"\r\n").ok_or("delimiter not followed by CRLF")?;
        let head_end = find(rest, b"\r\n\r\n").ok_or("part head not terminated")?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| "part head not UTF-8")?;
        let mut headers = Vec::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (n, v) = line.split_once(':').ok_or_else(|| format!("bad part header `{line}`"))?;
            headers.push((n.to_ascii_lowercase(), v.trim().to_owned()));
        }
        let range = headers
            .iter()
            .find(|(n, _)| n == "content-range")
            .map(|(_, v)| v.clone())
            .ok_or("part without Content-Range")?;
        let (first, last, complete) = parse_content_range(&range)?;
        rest = &rest[head_end + 4..];
        let len = usize::try_from(last - first + 1).map_err(|_| "part too long")?;
        if rest.len() < len {
            return Err(format!("part {range} cut short: {} bytes left", rest.len()));
        }
        let data = rest[..len].to_vec();
        rest = &rest[len..];
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or_else(|| format!("part {range} data not followed by CRLF"))?;
        rest = rest
            .strip_prefix(delimiter.as_bytes())
            .ok_or_else(|| format!("part {range} data not followed by the delimiter"))?;
        parts.push(Part { headers, first, last, complete, data });
    }
}

/// Parses `bytes FIRST-LAST/COMPLETE`.
pub fn parse_content_range(value: &str) -> Result<(u64, u64, u64), String> {
    let bad = || format!("bad Content-Range `{value}`");
    let spec = value.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, complete) = spec.split_once('/').ok_or_else(bad)?;
    let (first, last) = range.split_once('-').ok_or_else(bad)?;
    let number = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let (first, last, complete) = (number(first)?, number(last)?, number(complete)?);
    if first > last || last >= complete {
        return Err(bad());
    }
    Ok((first, last, complete))
}
