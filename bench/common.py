"""Shared bits of the benchmark helpers: targets, process stats, one timed raw request, rows.

A target is `NAME,PORT,PID` on the command line (e.g. `nginx,18081,4242`): every server
listens on 127.0.0.1 and serves MUSIC_DIR under /stream/. Helpers print result rows as JSON
lines on stdout (table.py renders them) and progress on stderr.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

HOST = "127.0.0.1"
MIB = 1024 * 1024


class Target:
    def __init__(self, spec):
        self.name, port, pid = spec.split(",")
        self.port, self.pid = int(port), int(pid)

    def url(self, rel):
        return f"http://{HOST}:{self.port}{self.path(rel)}"

    def path(self, rel, prefix="/stream/"):
        return prefix + urllib.parse.quote(rel)

    def pids(self, with_master=True):
        """The server's processes: for nginx the workers (and the master if asked)."""
        kids = children(self.pid) if self.name == "nginx" else []
        return ([self.pid] if with_master or not kids else []) + kids

    def cpu_seconds(self):
        """User plus system CPU time the server's processes have used so far."""
        ticks = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            except FileNotFoundError:
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    def stats(self, with_master=True):
        """Open fds, RSS in MiB and established server-side sockets, summed over pids()."""
        fds = rss = 0
        for pid in self.pids(with_master):
            try:
                fds += len(os.listdir(f"/proc/{pid}/fd"))
                rss += rss_kib(pid) / 1024
            except FileNotFoundError:
                pass
        return {"fds": fds, "rss_mib": rss, "sockets": established(self.port)}


def parser(doc):
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--target", action="append", type=Target, default=[], help="NAME,PORT,PID")
    p.add_argument("--music-dir", required=True)
    p.add_argument("--quick", action="store_true")
    return p


def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # The command name may contain spaces: the fields after ")" are fixed.
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return kids


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def established(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def timed_request(port, path, headers=(), read_body=None, method="GET", keep=True):
    """One request on a fresh connection. Returns (status, headers, ttfb_s, body_bytes, body).

    ttfb_s runs from the request being sent to the first *body* byte (headers alone do not
    play anything). With read_body set, stops after that many body bytes and aborts the
    connection (RST, like a browser cancelling), otherwise reads to Content-Length or EOF.
    With keep=False the body is counted, not kept.
    """
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: */*", *headers]
    start = time.perf_counter()
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            sock.close()
            raise ConnectionError("connection closed before the response head")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    want = read_body
    if want is None:
        want = 0 if method == "HEAD" else int(hdrs.get("content-length", 1 << 62))
    ttfb = time.perf_counter() - start if body or want == 0 else None
    chunks, got = [body], len(body)
    while got < want:
        chunk = sock.recv(min(1 << 20, want - got))
        if not chunk:
            break
        if ttfb is None:
            ttfb = time.perf_counter() - start
        if keep:
            chunks.append(chunk)
        got += len(chunk)
    sock.close()
    return status, hdrs, ttfb, got, b"".join(chunks)[:want]


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, -(-len(s) * p // 100) - 1)]


def median(values):
    return statistics.median(values) if values else None


def row(label, server, value, unit, better, note=None):
    print(json.dumps({"row": label, "server": server, "value": value, "unit": unit,
                      "better": better, "note": note}), flush=True)


def log(*args):
    print(*args, file=sys.stderr, flush=True)
