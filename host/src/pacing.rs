//! Keeps file bodies from reading ahead of the socket.
//!
//! hyper polls a body whenever its write queue has room, and that room is tied to
//! the buffer that also bounds request heads. Left alone, a stalled reader would
//! pin a full queue of file bytes; a thousand of them, hundreds of MiB. Instead a
//! body waits until the socket has taken what it produced; it starts with a small
//! read and doubles it while the kernel has sent everything it was given, falling
//! back to small reads as soon as data waits in the kernel (the reader is slower
//! than the file): a fast reader soon gets large reads, a stalled one costs a small
//! chunk, and the bytes wait in the file, not in memory.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read a body starts with, and makes while its reader is behind.
const SLOW_CHUNK: usize = 16 * 1024;
/// The largest read a body grows to while its reader keeps up. What a stalled
/// reader pins is about one read: measured with 1000 readers at 16 KiB/s, 32 KiB
/// keeps the host near 60 MiB (64 KiB: 126 MiB, 256 KiB: 280 MiB) and costs no
/// full-file throughput against nginx on loopback.
const FAST_CHUNK: usize = 32 * 1024;
/// `SIOCOUTQNSD` (linux/sockios.h): bytes in a TCP socket's queue not yet sent.
const SIOCOUTQNSD: libc::c_ulong = 0x894B;

/// Bytes a connection's socket has accepted, and who waits for more to go.
pub struct Progress {
    socket: RawFd,
    written: AtomicU64,
    waiting: Mutex<Option<Waker>>,
}

impl Progress {
    /// Bytes written to the socket so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Wakes `waker` at the next write; returns the count to re-check against, so
    /// a write between the check and the registration is not missed.
    pub fn wake_on_write(&self, waker: &Waker) -> u64 {
        *self.waiting.lock().unwrap() = Some(waker.clone());
        self.written()
    }

    fn add(&self, bytes: usize) {
        self.written.fetch_add(bytes as u64, Ordering::Release);
        if let Some(waker) = self.waiting.lock().unwrap().take() {
            waker.wake();
        }
    }
}

/// A body's view of its connection: how far ahead of the socket it is.
pub struct Pace {
    progress: Arc<Progress>,
    /// `written` when the body produced its first byte; earlier writes belong to
    /// previous responses and this one's head.
    baseline: Option<u64>,
    produced: u64,
    chunk: usize,
}

impl Pace {
    /// Paces a body on the connection that `progress` watches.
    pub fn new(progress: Arc<Progress>) -> Self {
        Self { progress, baseline: None, produced: 0, chunk: SLOW_CHUNK }
    }

    /// Once the socket has taken all this body produced: how many bytes to read next.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        let baseline = *self.baseline.get_or_insert_with(|| self.progress.written());
        let in_flight = |written: u64| self.produced.saturating_sub(written - baseline);
        if in_flight(self.progress.written()) > 0
            && in_flight(self.progress.wake_on_write(cx.waker())) > 0
        {
            return Poll::Pending;
        }
        self.chunk = match unsent_bytes(self.progress.socket) {
            Some(0) | None => (self.chunk * 2).min(FAST_CHUNK),
            Some(_) => SLOW_CHUNK,
        };
        Poll::Ready(self.chunk)
    }

    /// Records bytes handed to hyper.
    pub fn produced(&mut self, bytes: usize) {
        self.produced += bytes as u64;
    }
}

/// A stream that reports every byte written to it to a [`Progress`].
pub struct CountingStream<S> {
    inner: S,
    progress: Arc<Progress>,
}

impl<S: AsRawFd> CountingStream<S> {
    /// Wraps `inner`; the returned [`Progress`] is shared with the bodies it carries.
    pub fn new(inner: S) -> (Self, Arc<Progress>) {
        let progress = Arc::new(Progress {
            socket: inner.as_raw_fd(),
            written: AtomicU64::new(0),
            waiting: Mutex::new(None),
        });
        (Self { inner, progress: Arc::clone(&progress) }, progress)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.progress.add(written);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.progress.add(written);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Bytes the kernel holds for `socket` that the peer's window has not let it send.
/// The socket outlives every body of its connection: hyper drops a connection's
/// body before its I/O.
#[expect(unsafe_code, reason = "a socket query that has no safe wrapper")]
fn unsent_bytes(socket: RawFd) -> Option<usize> {
    let mut unsent: libc::c_int = 0;
    // SAFETY: the call only writes the integer passed by pointer.
    let known = unsafe { libc::ioctl(socket, SIOCOUTQNSD, &mut unsent) } == 0;
    known.then(|| unsent.max(0) as usize)
}
