"""Workload (e): WavPack transcoded to WAV (`/stream/wav/<file>.wv`), against wvunpack alone.

nginx cannot transcode, so the reference column is `wvunpack` itself on the same file in
the same run (runs alternate): decoding the 10-minute .wv to /dev/null bounds what any
server spawning it can reach. Reports MiB/s and × realtime of a full GET, and the time to
first body byte of a browser seek (`bytes=N-`, N 32 KiB-aligned at 90 %) into the one-hour
.wv, beside `wvunpack --skip` to the same sample. Then counts the decoder processes still
alive 1 s after those aborted seeks (should be 0). Skipped with "not available (status)"
when the server answers a HEAD of the transcode URL with anything but 200 (404 or 400
until transcoding exists, 503 when wvunpack is missing).
"""

import os
import subprocess
import time

from common import MIB, log, median, parser, row, children, timed_request

TEN = "WavPack/ten-minutes.wv"
HOUR = "WavPack/one-hour.wv"
BLOCK = 4  # stereo 16-bit
RATE = 44100


def wvunpack(path, skip=None):
    """Raw PCM to stdout, as a server would run it (it writes its own WAV header)."""
    return ["wvunpack", "-q", "--raw", *([f"--skip={skip}"] if skip is not None else []), path, "-o", "-"]


def main():
    args = parser(__doc__).parse_args()
    reps = 3 if args.quick else 5
    for t in args.target:
        wav = lambda rel: t.path(rel, prefix="/stream/wav/")  # noqa: E731
        status, hdrs, *_ = timed_request(t.port, wav(TEN), method="HEAD")
        if status != 200:
            log(f"(e) {t.name}: HEAD {wav(TEN)} answers {status}: transcoding not available")
            row("(e) .wv→WAV transcode", t.name, None, "", "", f"not available ({status})")
            continue
        full, ref, errors = [], [], []
        for _ in range(reps):
            start = time.perf_counter()
            status, hdrs, _, got, _ = timed_request(t.port, wav(TEN), keep=False)
            seconds = time.perf_counter() - start
            if status != 200 or got != int(hdrs.get("content-length", -1)):
                errors.append(f"full GET: {status}, {got} of {hdrs.get('content-length')} bytes")
            full.append((got, seconds))
            start = time.perf_counter()
            subprocess.run(wvunpack(os.path.join(args.music_dir, TEN)), stdout=subprocess.DEVNULL, check=True)
            ref.append(time.perf_counter() - start)
        pcm = 10 * 60 * RATE * BLOCK
        med_full = median([s for _, s in full])
        med_ref = median(ref)
        note = f"{len(errors)} bad, first: {errors[0]}" if errors else None
        row("(e) .wv→WAV 10 min full GET (ref: wvunpack alone)", t.name, full[0][0] / MIB / med_full,
            "MiB/s", "higher", note)
        row("(e) .wv→WAV 10 min full GET (ref: wvunpack alone)", "ref", pcm / MIB / med_ref, "MiB/s", "higher")
        row("(e) .wv→WAV 10 min, × realtime", t.name, 600 / med_full, "×", "higher")
        row("(e) .wv→WAV 10 min, × realtime", "ref", 600 / med_ref, "×", "higher")

        _, hdrs, *_ = timed_request(t.port, wav(HOUR), method="HEAD")
        length = int(hdrs["content-length"])
        n = int(length * 0.9) // 32768 * 32768
        header = length - 60 * 60 * RATE * BLOCK  # what precedes the samples in the response
        sample = (n - header) // BLOCK
        seek, seek_ref, seek_errors = [], [], []
        for _ in range(reps):
            status, hdrs, first, got, _ = timed_request(t.port, wav(HOUR), [f"Range: bytes={n}-"], 256 * 1024)
            if status != 206 or not hdrs.get("content-range", "").startswith(f"bytes {n}-"):
                seek_errors.append(f"{status} {hdrs.get('content-range')!r}")
            elif first is not None:
                seek.append(first * 1000)
            start = time.perf_counter()
            proc = subprocess.Popen(wvunpack(os.path.join(args.music_dir, HOUR), sample), stdout=subprocess.PIPE)
            proc.stdout.read(1)
            seek_ref.append((time.perf_counter() - start) * 1000)
            proc.kill()
            proc.wait()
        time.sleep(1)
        left = children(t.pid)
        log(f"(e) {t.name}: full {full}, ref {ref}, seek {seek}, ref {seek_ref}, left {left}, "
            f"errors {errors + seek_errors}")
        note = f"{len(seek_errors)} bad, first: {seek_errors[0]}" if seek_errors else None
        label = "(e) seek to 90 % of 1 h .wv, first byte (median; ref: wvunpack --skip)"
        row(label, t.name, median(seek), "ms", "lower", note)
        row(label, "ref", median(seek_ref), "ms", "lower")
        row("(e) decoder processes left after aborted seeks", t.name, len(left), "processes", "zero")


if __name__ == "__main__":
    main()
