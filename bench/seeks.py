"""Workload (c): 500 browser-style seeks, and what they leave behind.

Chromium seeks with an open-ended `Range: bytes=N-` at a 32 KiB-aligned N on a new
connection, reads a little and cancels: an abort is the
normal end of a request. Each seek here opens a fresh connection, asks for `bytes=N-` of
the 200 MiB file, reads 256 KiB, checks them against the file, and resets the connection.
Servers alternate seek by seek, on the same offsets.

Reports time to first body byte p50/p99, and the server's open fds, RSS and established
sockets before and 1 s after (nginx: summed over its workers). Anything left after is a
leak: a stream, file or socket that outlived the client.
"""

import os
import random
import time

from common import log, pct, parser, row, timed_request

FILE = "Album/01 - Long Track.flac"
READ = 256 * 1024


def main():
    args = parser(__doc__).parse_args()
    count = 200 if args.quick else 500
    path = os.path.join(args.music_dir, FILE)
    size = os.path.getsize(path)
    rng = random.Random(5)
    offsets = [rng.randrange(0, (size - READ) // 32768) * 32768 for _ in range(count)]
    before = {t.name: t.stats(with_master=False) for t in args.target}
    ttfb = {t.name: [] for t in args.target}
    errors = {t.name: [] for t in args.target}
    with open(path, "rb") as f:
        for n in offsets:
            f.seek(n)
            want = f.read(READ)
            for t in args.target:
                try:
                    status, hdrs, first, got, body = timed_request(t.port, t.path(FILE), [f"Range: bytes={n}-"], READ)
                except OSError as e:
                    errors[t.name].append(f"bytes={n}-: {e}")
                    continue
                cr = hdrs.get("content-range", "")
                if status != 206 or not cr.startswith(f"bytes {n}-") or body != want:
                    errors[t.name].append(f"bytes={n}-: {status} {cr!r}, {got} bytes, match {body == want}")
                elif first is not None:
                    ttfb[t.name].append(first * 1000)
    time.sleep(1)
    for t in args.target:
        after = t.stats(with_master=False)
        b, e = before[t.name], errors[t.name]
        log(f"(c) {t.name}: before {b}, after {after}, {len(e)} errors {e[:3]}")
        note = f"{len(e)} failed, first: {e[0]}" if e else None
        ms = ttfb[t.name]
        row("(c) seek bytes=N-, time to first byte p50", t.name, pct(ms, 50) if ms else None, "ms", "lower", note)
        row("(c) seek bytes=N-, time to first byte p99", t.name, pct(ms, 99) if ms else None, "ms", "lower")
        row("(c) after seeks: fds left (after − before)", t.name, after["fds"] - b["fds"], "fds", "zero",
            f"{b['fds']} → {after['fds']}")
        row("(c) after seeks: established sockets", t.name, after["sockets"], "sockets", "zero",
            f"before {b['sockets']}")
        row("(c) after seeks: RSS growth", t.name, after["rss_mib"] - b["rss_mib"], "MiB", "zero",
            f"{b['rss_mib']:.1f} → {after['rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
