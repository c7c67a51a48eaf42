"""Render the result rows (JSON lines from the other helpers) as one table.

Prints it and rewrites the "## Results" section of bench/RESULTS.md, keeping the header
above it. Columns: tapedeck, nginx (or, for (e)-(h), the named reference), the tapedeck/nginx
ratio for rows where a ratio means something, and which direction is better.
A server that did not run shows "n/a".
"""

import argparse
import datetime
import json
import os

HEADER = """# tapedeck vs nginx: benchmark results

Run from the repository root: `bash bench/run.sh` (about 5 minutes) or
`bash bench/run.sh --quick` (about 2). It builds tapedeck in release, installs nginx, wrk,
curl, python3 and wavpack if missing, generates a music library once into
`target/bench-data/`, serves it with tapedeck and with nginx 1.22 (`sendfile on`, 2 workers,
`alias` to the same directory) on 127.0.0.1, runs the same workloads against both in the
same run, and rewrites the section below. See the top comment of each `bench/*.py` for
what a row measures and why.

How to read it: figures are medians (or wrk's percentiles) from one run on a shared,
noisy machine, so compare the two columns of the same run rather than runs. The ratio is
tapedeck ÷ nginx: above 1 is better for "higher" rows (throughput), below 1 for "lower"
rows (latency, memory). "zero" rows count leftovers (fds, sockets, processes) and should
read 0. In (e) the second column is `wvunpack` alone, in (f) and (h) `ffmpeg`, in (g) a
Python `mutagen` listing, not nginx.
"""


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if isinstance(v, int) or abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def build(rows):
    table = {}
    for r in rows:
        entry = table.setdefault(r["row"], {"unit": r["unit"], "better": r["better"], "notes": []})
        entry["ref" if r["server"] in ("nginx", "ref") else r["server"]] = r
        if r["note"]:
            entry["notes"].append(f"{r['server']}: {r['note']}")
        entry["unit"] = entry["unit"] or r["unit"]
        entry["better"] = entry["better"] or r["better"]
    lines = ["| workload | tapedeck | nginx / ref | tapedeck ÷ nginx | better | notes |",
             "|---|--:|--:|--:|---|---|"]
    for label, e in table.items():
        t = e.get("tapedeck", {}).get("value")
        n = e.get("ref", {}).get("value")
        ratio = "—"
        if e["better"] in ("higher", "lower") and isinstance(t, (int, float)) and isinstance(n, (int, float)) and n:
            ratio = f"{t / n:.2f}×"
        name = f"{label}, {e['unit']}" if e["unit"] else label
        notes = "; ".join(e["notes"]).replace("|", "\\|")
        lines.append(f"| {name} | {fmt(t)} | {fmt(n)} | {ratio} | {e['better']} | {notes} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--machine", required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--notes", help="a file of extra lines (observations) to list under the table")
    args = p.parse_args()
    with open(args.results) as f:
        rows = [json.loads(line) for line in f if line.startswith("{")]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = [f"## Results", "", f"Commit `{args.commit}`, {now}, {args.machine}, mode: {args.mode}.", "",
               build(rows), ""]
    if args.notes and os.path.exists(args.notes):
        with open(args.notes) as f:
            notes = [line.rstrip() for line in f if line.strip()]
        if notes:
            section += ["Observations from this run:", ""] + [f"- {n}" for n in notes] + [""]
    text = "\n".join(section)
    print(text)
    header = HEADER
    if os.path.exists(args.out):
        with open(args.out) as f:
            old = f.read()
        if "## Results" in old:
            header = old.split("## Results", 1)[0].rstrip() + "\n"
    with open(args.out, "w") as f:
        f.write(header + "\n" + text)


if __name__ == "__main__":
    main()
