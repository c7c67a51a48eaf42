//! File spans go from the page cache to the socket with `sendfile(2)`, beneath hyper.
//!
//! hyper frames each response and writes the body bytes it is handed; it cannot send
//! from a file. So a span of a file crosses hyper as a *hole*: a slice, as long as the
//! span, of a static region that nothing ever writes or reads ([`HOLES`]). The
//! connection's [`Socket`] spots hole slices among the buffers hyper writes and fills
//! each with `sendfile` from the span queued with it. hyper writes a connection's
//! body bytes in order, so holes and spans pair up first to first.
//!
//! No file byte passes through user space, and a stalled reader pins no buffer: what
//! waits is a queued span (a file handle and two numbers) and the kernel's socket
//! buffer. This relies on hyper queueing body buffers rather than copying them, which
//! it does with vectored writes on (`http1::Builder::writev(true)`); a copied hole
//! would arrive as zeros, which is what the byte-exact tests would catch.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use rustix::net::SendFlags;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::pace::{Allowance, Pacer};

/// The most one hole stands for; longer spans travel as several. hyper flushes
/// once it holds more than its buffer size, so this is also about how much one
/// flush asks of `sendfile`.
pub const HOLE_BYTES: usize = 1 << 20;

/// Never written, so never backed by memory: only its addresses are used.
static HOLES: [u8; HOLE_BYTES] = [0; HOLE_BYTES];

/// Whether `slice` is a hole rather than real bytes.
fn is_hole(slice: &[u8]) -> bool {
    !slice.is_empty() && HOLES.as_ptr_range().contains(&slice.as_ptr())
}

/// What a connection shares with the bodies it carries: the spans whose holes hyper
/// holds but has not yet written, in order, and the pace of the response being written.
#[derive(Default)]
pub struct Spans {
    queue: Mutex<VecDeque<Span>>,
    /// The pace of the response being written (none unless a tenant limits its rate).
    pub pace: Pacer,
}

struct Span {
    file: Arc<File>,
    offset: u64,
    length: usize,
}

impl Spans {
    /// Queues `length` bytes of `file` from `offset` and returns the hole that
    /// stands for them in the body; `length` is at most [`HOLE_BYTES`].
    pub fn hole(&self, file: &Arc<File>, offset: u64, length: usize) -> Bytes {
        let span = Span { file: Arc::clone(file), offset, length };
        self.queue.lock().unwrap().push_back(span);
        Bytes::from_static(&HOLES[..length])
    }
}

/// A client connection that fills holes from their files as hyper writes them, and
/// gives up on a client that reads nothing for its send timeout.
pub struct Socket {
    stream: TcpStream,
    spans: Arc<Spans>,
    send_timeout: Duration,
    /// Running while a write waits on the client: it ends the connection when it fires.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Running while a paced response waits for its next write.
    paused: Option<Pin<Box<Sleep>>>,
}

impl Socket {
    /// Wraps `stream`; the returned [`Spans`] is shared with the bodies it carries.
    pub fn new(stream: TcpStream, send_timeout: Duration) -> (Self, Arc<Spans>) {
        let spans = Arc::new(Spans::default());
        (
            Self { stream, spans: Arc::clone(&spans), send_timeout, stalled: None, paused: None },
            spans,
        )
    }

    /// How many bytes the response's pace lets it write now (`usize::MAX`: no limit),
    /// once it lets it write any.
    fn poll_allowance(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        loop {
            let until = match self.spans.pace.allowance() {
                Allowance::Unlimited => return Poll::Ready(usize::MAX),
                Allowance::Bytes(most) => {
                    self.paused = None;
                    return Poll::Ready(most);
                }
                Allowance::Until(until) => until,
            };
            let paused =
                self.paused.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
            paused.as_mut().reset(until);
            ready!(paused.as_mut().poll(cx));
        }
    }

    /// `polled`, a write's outcome, unless the client has read nothing for the send
    /// timeout: a reader that makes progress, however slowly, keeps its connection.
    fn unless_stalled<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let send_timeout = self.send_timeout;
        let stalled =
            self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(send_timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Runs the non-blocking socket operation `op` once the socket is writable.
    fn poll_op<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_io(Interest::WRITABLE, &mut op) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    /// Sends bytes that a hole follows, telling the kernel more is coming so the
    /// head and the file's first bytes share packets.
    fn poll_send_before_hole(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
        self.poll_op(cx, || {
            rustix::net::sendmsg(&self.stream, bufs, &mut Default::default(), flags)
                .map_err(io::Error::from)
        })
    }

    /// Fills up to `most` bytes of the hole of `length` bytes at the front of what
    /// hyper writes.
    fn poll_fill_hole(
        &self,
        cx: &mut Context<'_>,
        length: usize,
        most: usize,
    ) -> Poll<io::Result<usize>> {
        let mut spans = self.spans.queue.lock().unwrap();
        // hyper advances a partly written hole as this advances its span, so the
        // two always agree; anything else would put wrong bytes on the wire.
        let Some(span) = spans.front_mut().filter(|span| span.length == length) else {
            return Poll::Ready(Err(io::Error::other("a body hole without its file span")));
        };
        let sent = ready!(self.poll_op(cx, || {
            rustix::fs::sendfile(
                &self.stream,
                &*span.file,
                Some(&mut span.offset),
                length.min(most),
            )
            .map_err(io::Error::from)
        }))?;
        if sent == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while being sent",
            )));
        }
        span.length -= sent;
        if span.length == 0 {
            spans.pop_front();
        }
        Poll::Ready(Ok(sent))
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let most = ready!(self.poll_allowance(cx));
        let polled = match bufs.iter().position(|buf| is_hole(buf)) {
            Some(at) if bufs[..at].iter().all(|buf| buf.is_empty()) => {
                self.poll_fill_hole(cx, bufs[at].len(), most)
            }
            Some(at) if most == usize::MAX => self.poll_send_before_hole(cx, &bufs[..at]),
            Some(at) => self.poll_send_before_hole(cx, &at_most(&bufs[..at], most)),
            None if most == usize::MAX => Pin::new(&mut self.stream).poll_write_vectored(cx, bufs),
            None => Pin::new(&mut self.stream).poll_write_vectored(cx, &at_most(bufs, most)),
        };
        if let Poll::Ready(Ok(written)) = polled {
            self.spans.pace.sent(written);
        }
        self.unless_stalled(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.unless_stalled(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The first `most` bytes of `bufs`, which hold no hole.
fn at_most<'a>(bufs: &'a [IoSlice<'_>], most: usize) -> Vec<IoSlice<'a>> {
    let mut left = most;
    let mut cut = Vec::with_capacity(bufs.len());
    for buf in bufs {
        if left == 0 {
            break;
        }
        let take = buf.len().min(left);
        left -= take;
        cut.push(IoSlice::new(&buf[..take]));
    }
    cut
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Writes `bufs` through a [`Socket`] until all are written, as hyper does, and
    /// returns what the peer received.
    fn send_through_socket(bufs_for: impl FnOnce(&Spans) -> Vec<Bytes>) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut socket, spans) =
                Socket::new(listener.accept().await.unwrap().0, Duration::from_secs(5));
            let mut bufs = bufs_for(&spans);
            while bufs.iter().any(|buf| !buf.is_empty()) {
                let slices: Vec<IoSlice<'_>> = bufs.iter().map(|buf| IoSlice::new(buf)).collect();
                let mut written = socket.write_vectored(&slices).await.unwrap();
                assert!(written > 0, "a write of {} buffers made no progress", slices.len());
                for buf in &mut bufs {
                    let taken = written.min(buf.len());
                    bytes::Buf::advance(buf, taken);
                    written -= taken;
                }
            }
            socket.shutdown().await.unwrap();
            drop(socket);
            let mut received = Vec::new();
            peer.read_to_end(&mut received).unwrap();
            received
        })
    }

    #[test]
    fn holes_arrive_as_their_file_bytes_between_the_literal_bytes() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789abcdefghij").unwrap();
        let file = Arc::new(file);
        let received = send_through_socket(|spans| {
            vec![
                Bytes::new(),
                Bytes::from_static(b"head|"),
                spans.hole(&file, 10, 6),
                Bytes::new(),
                spans.hole(&file, 0, 3),
                Bytes::from_static(b"|tail"),
            ]
        });
        assert_eq!(String::from_utf8_lossy(&received), "head|abcdef012|tail");
    }

    #[test]
    fn a_hole_first_after_empty_buffers_is_filled() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        (&*file).write_all(b"xyz").unwrap();
        let received = send_through_socket(|spans| vec![Bytes::new(), spans.hole(&file, 1, 2)]);
        assert_eq!(received, b"yz");
    }

    #[test]
    fn only_slices_of_the_hole_region_are_holes() {
        let spans = Spans::default();
        let file = Arc::new(tempfile::tempfile().unwrap());
        let hole = spans.hole(&file, 7, 100);
        assert!(is_hole(&hole));
        assert!(is_hole(&hole[99..]));
        assert!(!is_hole(&hole[100..]), "an empty slice is nothing to fill");
        assert!(!is_hole(&[0u8; 100]), "zeros elsewhere are real bytes");
        assert!(!is_hole(b"bytes"));
    }
}
