"""Workload (b): random 64 KiB ranges over 1000 files with wrk (-t2 -c64, ranges.lua).

Reports req/s and the p50/p99 latency from wrk's own histogram, each the median over short
runs that alternate between servers (5 rounds of 4 s; --quick: 2 of 3 s), so a burst of
background load on this shared machine does not land on one server only. Each server first
gets a 2 s run that is not counted: the first requests on a fresh server pay for first
use (tapedeck's pooled instance slots, nginx's worker caches), which is not the steady
state this row measures. wrk and the
server share the 2 cores, as they do for nginx too.
Also reports the server's CPU time per request (user + system, from /proc, over the same
runs): on a machine this size the ranges row is CPU-bound, and this says where it goes.
Checks that the answers were ranges: any non-2xx/3xx, socket error or a mean response
larger than a 64 KiB part plus headers is reported beside the numbers.
"""

import json
import os
import subprocess
import time

from common import log, median, parser, row

HERE = os.path.dirname(os.path.abspath(__file__))


def wrk(t, seconds):
    cpu_before = t.cpu_seconds()
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-s",
                          os.path.join(HERE, "ranges.lua"), t.url("")],
                         capture_output=True, text=True, check=True).stdout
    s = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    s["cpu_us"] = (t.cpu_seconds() - cpu_before) * 1e6
    log(f"(b) {t.name}: {s}")
    time.sleep(0.5)  # let the closed connections drain before the next run
    return s


def main():
    args = parser(__doc__).parse_args()
    rounds, seconds = (2, 3) if args.quick else (5, 4)
    for t in args.target:
        wrk(t, 2)
    runs = {t.name: [] for t in args.target}
    for _ in range(rounds):
        for t in args.target:
            runs[t.name].append(wrk(t, seconds))
    for t in args.target:
        problems = []
        total = {k: sum(s[k] for s in runs[t.name]) for k in runs[t.name][0]}
        errors = {k[4:]: v for k, v in total.items() if k.startswith("err_") and v}
        if errors:
            problems.append("socket/status errors: " + ", ".join(f"{k} {v}" for k, v in errors.items()))
        if total["requests"] and total["bytes"] / total["requests"] > 65536 + 1024:
            problems.append(f"mean response {total['bytes'] // total['requests']} B: ranges ignored?")
        note = "; ".join(problems) or None
        rps = median([s["requests"] / (s["duration_us"] / 1e6) for s in runs[t.name]])
        row("(b) random 64 KiB ranges, wrk -c64", t.name, rps, "req/s", "higher", note)
        row("(b) ranges latency p50", t.name, median([s["p50_us"] / 1000 for s in runs[t.name]]), "ms", "lower")
        row("(b) ranges latency p99", t.name, median([s["p99_us"] / 1000 for s in runs[t.name]]), "ms", "lower")
        cpu = median([s["cpu_us"] / s["requests"] for s in runs[t.name] if s["requests"]])
        row("(b) ranges: server CPU per request", t.name, cpu, "µs", "lower")


if __name__ == "__main__":
    main()
