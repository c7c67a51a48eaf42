//! Keeps file bodies from reading ahead of the socket.
//!
//! hyper polls a body whenever its write queue has room, and that room is tied to
//! the buffer that also bounds request heads. Left alone, a stalled reader would
//! pin a full queue of file bytes; a thousand of them, hundreds of MiB. Instead a
//! body waits until the socket has taken what it produced, then reads only as much
//! as the kernel's send buffer has room for: a fast reader gets large reads, a
//! stalled one costs a small chunk, and the bytes wait in the file, not in memory.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The smallest read a body makes, even when the send buffer looks full.
const MIN_CHUNK: usize = 16 * 1024;
/// The largest read a body makes at once.
const MAX_CHUNK: usize = 256 * 1024;

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
}

impl Pace {
    /// Paces a body on the connection that `progress` watches.
    pub fn new(progress: Arc<Progress>) -> Self {
        Self { progress, baseline: None, produced: 0 }
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
        let room = send_buffer_room(self.progress.socket).unwrap_or(MAX_CHUNK);
        Poll::Ready(room.clamp(MIN_CHUNK, MAX_CHUNK))
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

/// Bytes the kernel would take into `socket`'s send buffer now. The socket outlives
/// every body of its connection: hyper drops a connection's body before its I/O.
#[expect(unsafe_code, reason = "two socket queries that have no safe wrapper")]
fn send_buffer_room(socket: RawFd) -> Option<usize> {
    let mut queued: libc::c_int = 0;
    let mut size: libc::c_int = 0;
    let mut size_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: both calls only write the integers passed by pointer, sized as given.
    let known = unsafe {
        libc::ioctl(socket, libc::TIOCOUTQ, &mut queued) == 0
            && libc::getsockopt(
                socket,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&raw mut size).cast(),
                &mut size_len,
            ) == 0
    };
    // Linux reports SO_SNDBUF doubled, half of it being bookkeeping (socket(7)).
    known.then(|| (size / 2 - queued).max(0) as usize)
}
