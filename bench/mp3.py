"""Workload (f): seekable MP3 transcodes (`/stream/mp3/<file>?bitrate=192`), against ffmpeg.

nginx cannot transcode, so the reference column is `ffmpeg` itself on the same 10-minute
FLAC in the same run (runs alternate): the time to the first byte of a seek to 90 % (a
range `bytes=N-` at 90 % of the Content-Length, beside `ffmpeg -ss` to that time writing
MP3 to a pipe), a full transfer (beside `ffmpeg … -f mp3` to /dev/null), and the encoder
CPU per second of audio (the server's reaped children, from /proc, beside ffmpeg's own).
"""

import os
import resource
import subprocess
import time

from common import log, median, parser, row, timed_request

FLAC = "Lossless/ten-minutes.flac"
SECONDS = 600
BITRATE = 192


def ensure_flac(music_dir):
    path = os.path.join(music_dir, FLAC)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"sine=f=440:d={SECONDS}:sample_rate=44100", "-ac", "2", path], check=True)
    return path


def children_cpu(pid):
    """CPU seconds of the children `pid` has reaped (cutime + cstime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def ffmpeg_seek_ttfb(path, at):
    start = time.perf_counter()
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-ss", str(at), "-i", path,
                             "-ar", "48000", "-b:a", f"{BITRATE}k", "-f", "mp3", "pipe:1"],
                            stdout=subprocess.PIPE)
    proc.stdout.read(1)
    ttfb = time.perf_counter() - start
    proc.kill()
    proc.wait()
    return ttfb


def ffmpeg_full(path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ar", "48000",
                    "-b:a", f"{BITRATE}k", "-f", "mp3", "-y", "/dev/null"], check=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    args = parser(__doc__).parse_args()
    reps = 3 if args.quick else 5
    path = ensure_flac(args.music_dir)
    for t in args.target:
        url = t.path(FLAC, prefix="/stream/mp3/") + f"?bitrate={BITRATE}"
        status, hdrs, *_ = timed_request(t.port, url, method="HEAD")
        if status != 200:
            row("(f) MP3 transcode", t.name, None, "", "", f"not available ({status})")
            continue
        length = int(hdrs["content-length"])
        offset = length * 9 // 10
        seek, ref_seek, full, ref_full, cpu, ref_cpu = [], [], [], [], [], []
        for _ in range(reps):
            _, _, ttfb, _, _ = timed_request(t.port, url, headers=[f"Range: bytes={offset}-"],
                                             read_body=1)
            seek.append(ttfb * 1000)
            ref_seek.append(ffmpeg_seek_ttfb(path, SECONDS * 0.9) * 1000)
        for _ in range(max(2, reps // 2)):
            before = children_cpu(t.pid)
            start = time.perf_counter()
            status, _, _, got, _ = timed_request(t.port, url, keep=False)
            full.append(time.perf_counter() - start)
            time.sleep(0.3)  # the last encoder is reaped just after the body ends
            cpu.append((children_cpu(t.pid) - before) / SECONDS * 1000)
            took, used = ffmpeg_full(path)
            ref_full.append(took)
            ref_cpu.append(used / SECONDS * 1000)
            if got != length:
                log(f"(f) full GET got {got} of {length} bytes")
        log(f"(f) seek ms {seek} vs {ref_seek}; full s {full} vs {ref_full}; cpu {cpu} vs {ref_cpu}")
        row("(f) seek to 90 % of a 10 min FLAC via /stream/mp3/, first byte (ref: ffmpeg -ss … -f mp3)",
            t.name, median(seek), "ms", "lower")
        row("(f) seek to 90 % of a 10 min FLAC via /stream/mp3/, first byte (ref: ffmpeg -ss … -f mp3)",
            "ref", median(ref_seek), "ms", "lower")
        row("(f) full /stream/mp3/ of a 10 min FLAC (ref: ffmpeg -f mp3 to /dev/null)",
            t.name, median(full), "s", "lower")
        row("(f) full /stream/mp3/ of a 10 min FLAC (ref: ffmpeg -f mp3 to /dev/null)",
            "ref", median(ref_full), "s", "lower")
        row("(f) decoder + encoder CPU per second of audio (ref: ffmpeg)", t.name, median(cpu), "ms", "lower")
        row("(f) decoder + encoder CPU per second of audio (ref: ffmpeg)", "ref", median(ref_cpu), "ms",
            "lower")


if __name__ == "__main__":
    main()
