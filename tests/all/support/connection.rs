//! Clients that keep their connection: a GET read the way a browser reads one (the head,
//! then as much body as it wants, then maybe an abort) and a kept-alive connection that
//! carries request after request.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::http::{Framing, Response, connect, parse_head, read_to_close, request_head};

/// Sends a GET, reads the response head and at most `max_body` bytes of its body, then drops
/// the connection mid-body, as Chromium does all the time. The body holds what was read.
#[track_caller]
pub fn get_prefix(
    addr: SocketAddr,
    target: &str,
    headers: &[(&str, &str)],
    max_body: usize,
) -> Response {
    let mut stream = OpenStream::open(addr, target, headers);
    let length = stream.head.header("content-length").and_then(|l| l.parse::<usize>().ok());
    let body = stream.read(length.map_or(max_body, |l| l.min(max_body)));
    Response { body, ..stream.head.clone() }
}

/// GETs `target` and reads the whole body without keeping it: returns the response (with an
/// empty body), the number of body bytes received and the last 16 of them.
#[track_caller]
pub fn get_counted(addr: SocketAddr, target: &str) -> (Response, u64, Vec<u8>) {
    let mut stream = OpenStream::open(addr, target, &[("Connection", "close")]);
    let mut tail = std::mem::take(&mut stream.pending);
    let mut count = tail.len() as u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match stream.socket.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("GET {target}: read failed after {count} body bytes: {e}"),
        };
        count += n as u64;
        tail.extend_from_slice(&buf[..n]);
        tail.drain(..tail.len().saturating_sub(16));
    }
    tail.drain(..tail.len().saturating_sub(16));
    (stream.head, count, tail)
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
        loop {
            match parse_head(&received) {
                Ok(Some((head, end))) => {
                    let pending = received.split_off(end);
                    let target = target.to_owned();
                    return OpenStream { socket, head, pending, taken: 0, target };
                }
                Ok(None) => {}
                Err(e) => panic!("GET {target}: {e}"),
            }
            match socket.read(&mut buf) {
                Ok(0) => panic!("GET {target}: closed before a response head: {received:?}"),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) => panic!("GET {target}: no response head: {e}"),
            }
        }
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
        loop {
            if let Some((mut response, end)) = parse_head(&self.buffered)? {
                let length = match Framing::of(&response, false)? {
                    Framing::Empty => 0,
                    Framing::Length(length) => length,
                    _ => return Err(format!("no Content-Length: {}", response.summary())),
                };
                if self.buffered.len() >= end + length {
                    let rest = self.buffered.split_off(end + length);
                    response.body = self.buffered.split_off(end);
                    self.buffered = rest;
                    return Ok(response);
                }
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
