"""Workload (d): 1000 slow readers at once, one server at a time.

1000 connections (opened over the first second) each GET the 200 MiB file and read it at
16 KiB/s for 15 s, like players on slow links. A reader "kept up" if it got at least 90 %
of the 240 KiB its pace allows. The client sockets get a fixed 64 KiB receive buffer (a
modest window, as over a real network) so the kernel cannot absorb the backlog for them:
whatever a server queues ahead of a slow client it must hold itself. That is what the
peak RSS, sampled every 100 ms (nginx: master + workers), shows. fds and RSS are compared
before and 2 s after all readers hung up.
"""

import asyncio
import socket
import time

from common import HOST, MIB, log, parser, row, rss_kib

FILE = "Album/01 - Long Track.flac"
READERS = 1000
RATE = 16 * 1024
RAMP = 1.0
TICK = 0.25


async def reader(t, delay, seconds, results):
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + seconds
    got, error = 0, None
    writer = None
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.setblocking(False)
        await loop.sock_connect(sock, (HOST, t.port))
        reader_, writer = await asyncio.open_connection(sock=sock)
        writer.write(f"GET {t.path(FILE)} HTTP/1.1\r\nHost: {HOST}:{t.port}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader_.readuntil(b"\r\n\r\n"), deadline - loop.time())
        status = int(head.split()[1])
        if status != 200:
            raise ValueError(f"status {status}")
        while (now := loop.time()) < deadline:
            allowed = int(RATE * (now - start)) - got
            if allowed <= 0:
                await asyncio.sleep(min(TICK, deadline - now))
                continue
            data = await asyncio.wait_for(reader_.read(allowed), deadline - now)
            if not data:
                raise ValueError(f"EOF after {got} bytes")
            got += len(data)
    except TimeoutError:
        pass
    except (OSError, ValueError, asyncio.IncompleteReadError) as e:
        error = f"{type(e).__name__}: {e}"
    results.append((got, error))
    return writer


async def sample_rss(t, stop, peak):
    pids = t.pids()
    while not stop.is_set():
        total = 0
        for pid in pids:
            try:
                total += rss_kib(pid) / 1024
            except FileNotFoundError:
                pass
        peak[0] = max(peak[0], total)
        await asyncio.sleep(0.1)


async def run(t, seconds):
    results, peak, stop = [], [0.0], asyncio.Event()
    sampler = asyncio.create_task(sample_rss(t, stop, peak))
    writers = await asyncio.gather(*(reader(t, RAMP * i / READERS, seconds, results) for i in range(READERS)))
    stop.set()
    await sampler
    for w in writers:
        if w is not None:
            w.transport.abort()
    return results, peak[0]


def main():
    args = parser(__doc__).parse_args()
    seconds = 15
    expected = RATE * seconds
    for t in args.target:
        before = t.stats()
        started = time.perf_counter()
        results, peak = asyncio.run(run(t, seconds))
        elapsed = time.perf_counter() - started
        time.sleep(2)
        after = t.stats()
        kept = sum(1 for got, err in results if err is None and got >= 0.9 * expected)
        errors = [err for _, err in results if err]
        total = sum(got for got, _ in results)
        log(f"(d) {t.name}: kept up {kept}/{READERS}, {total / MIB:.0f} MiB in {elapsed:.1f} s, "
            f"peak RSS {peak:.1f} MiB (idle {before['rss_mib']:.1f}), fds {before['fds']} → {after['fds']}, "
            f"{len(errors)} errors {errors[:3]}")
        note = f"{len(errors)} errors, first: {errors[0]}" if errors else None
        row(f"(d) {READERS} readers at 16 KiB/s for {seconds} s: kept up", t.name, kept, "readers", "higher", note)
        row("(d) slow readers: peak RSS", t.name, peak, "MiB", "lower",
            f"idle {before['rss_mib']:.1f}, 2 s after {after['rss_mib']:.1f} MiB")
        row("(d) slow readers: fds left 2 s after", t.name, after["fds"] - before["fds"], "fds", "zero",
            f"{before['fds']} → {after['fds']}")
        time.sleep(1)


if __name__ == "__main__":
    main()
