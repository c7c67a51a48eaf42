"""Workload (a): full-file throughput of the 200 MiB file with curl.

Sequential: one curl to /dev/null at a time, median MiB/s over 5 runs per server.
Parallel: 4 curls at once, aggregate MiB/s (all bytes / wall time until the last one ends),
median over 3 rounds. Servers alternate run by run so that noise on this shared machine
hits both alike. On loopback curl itself is often the bottleneck: a ratio near 1 then means
"as fast as the client can take it", not "as fast as nginx can go".
"""

import subprocess
import time

from common import MIB, log, median, parser, row

FILE = "Album/01 - Long Track.flac"
SIZE = 200 * MIB


def curl(url):
    out = "%{http_code} %{size_download} %{time_total}"
    return subprocess.Popen(["curl", "-sS", "-o", "/dev/null", "-w", out, url], stdout=subprocess.PIPE, text=True)


def check(proc, errors):
    """Returns (bytes, curl's own transfer time, which leaves out its start-up)."""
    out, _ = proc.communicate()
    code, size, seconds = out.split()
    if code != "200" or int(size) != SIZE:
        errors.append(f"status {code}, {size} bytes")
    return int(size), float(seconds)


def main():
    args = parser(__doc__).parse_args()
    rounds_seq, rounds_par = (3, 2) if args.quick else (5, 3)
    seq = {t.name: [] for t in args.target}
    par = {t.name: [] for t in args.target}
    errors = {t.name: [] for t in args.target}
    for _ in range(rounds_seq):
        for t in args.target:
            size, seconds = check(curl(t.url(FILE)), errors[t.name])
            seq[t.name].append(size / MIB / seconds)
    for _ in range(rounds_par):
        for t in args.target:
            start = time.perf_counter()
            procs = [curl(t.url(FILE)) for _ in range(4)]
            total = sum(check(p, errors[t.name])[0] for p in procs)
            par[t.name].append(total / MIB / (time.perf_counter() - start))
    for t in args.target:
        log(f"(a) {t.name}: sequential {seq[t.name]}, parallel {par[t.name]}, errors {errors[t.name][:3]}")
        note = f"{len(errors[t.name])} bad responses: {errors[t.name][0]}" if errors[t.name] else None
        row("(a) full 200 MiB GET, sequential (median)", t.name, median(seq[t.name]), "MiB/s", "higher", note)
        row("(a) full 200 MiB GET, 4 parallel (aggregate)", t.name, median(par[t.name]), "MiB/s", "higher", note)


if __name__ == "__main__":
    main()
