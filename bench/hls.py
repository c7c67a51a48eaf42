"""Workload (h): an HLS seek (`/hls/<file>/aac-128/<n>.m4s`), against ffmpeg.

A player that seeks in an HLS stream fetches the one segment holding the target, and the
server encodes that segment when it is asked for. On the 10-minute FLAC of (f), the helper
GETs the aac-128 media playlist, picks the segment holding 90 % of the duration (from the
EXTINFs), and times a GET of that segment on a fresh connection, to its first body byte and
to its last; every request encodes the segment again (segments are not cached; the file's
probe is, and the playlist request has made it). nginx cannot transcode, so the reference
column is `ffmpeg` on the same file in the same run (runs alternate): `-ss` to the segment's
start, `-t` its EXTINF, AAC-LC at 128 kbit/s written as ADTS to a pipe, timed to its first
byte and to its end. That is the encode alone: the server also decodes a second of pre-roll
and 8 AAC packets before the segment, and sends nothing until the whole `moof`/`mdat` is
known, so its first byte comes only when its last is ready.
"""

import subprocess
import time

from common import log, median, parser, row, timed_request
from mp3 import FLAC, SECONDS, ensure_flac

RENDITION = "aac-128"
SHARE = 0.9


def ffmpeg_segment(path, start, length):
    """Seconds to ffmpeg's first byte and to its last, encoding [start, start + length)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{start:.6f}", "-i", path,
                             "-t", f"{length:.6f}", "-c:a", "aac", "-b:a", "128k", "-f", "adts",
                             "pipe:1"], stdout=subprocess.PIPE)
    first = proc.stdout.read(1)
    ttfb = time.perf_counter() - t0
    rest = proc.stdout.read()
    last = time.perf_counter() - t0
    if proc.wait() != 0 or not first or not rest:
        raise RuntimeError(f"ffmpeg exited {proc.returncode} after {len(first) + len(rest)} bytes")
    return ttfb, last


def segment_at(playlist, at):
    """(index, start, length) of the segment of a media playlist's text holding second `at`."""
    start = 0.0
    for i, length in enumerate(float(line.split(":", 1)[1].split(",")[0])
                               for line in playlist.splitlines() if line.startswith("#EXTINF:")):
        if at < start + length:
            return i, start, length
        start += length
    raise ValueError(f"the playlist lasts {start} s, not past {at} s")


def main():
    args = parser(__doc__).parse_args()
    reps = 3 if args.quick else 7
    path = ensure_flac(args.music_dir)
    label_first = (f"(h) HLS seek to 90 % of a 10 min FLAC: its {RENDITION} segment, first byte "
                   "(ref: ffmpeg -ss … -t 6 -c:a aac to a pipe)")
    label_last = (f"(h) HLS seek to 90 % of a 10 min FLAC: its {RENDITION} segment, last byte "
                  "(ref: the same ffmpeg, its end)")
    for t in args.target:
        base = t.path(FLAC, prefix="/hls/")
        status, _, _, _, body = timed_request(t.port, f"{base}/{RENDITION}/index.m3u8")
        if status != 200:
            row(label_first, t.name, None, "", "", f"not available ({status})")
            continue
        index, start, length = segment_at(body.decode(), SECONDS * SHARE)
        url = f"{base}/{RENDITION}/{index}.m4s"
        first, last, ref_first, ref_last, sizes = [], [], [], [], set()
        for _ in range(reps):
            t0 = time.perf_counter()
            status, hdrs, ttfb, got, _ = timed_request(t.port, url, keep=False)
            took = time.perf_counter() - t0
            if status != 200 or got != int(hdrs.get("content-length", -1)):
                log(f"(h) GET {url}: {status}, {got} of {hdrs.get('content-length')} bytes")
                continue
            first.append(ttfb * 1000)
            last.append(took * 1000)
            sizes.add(got)
            a, b = ffmpeg_segment(path, start, length)
            ref_first.append(a * 1000)
            ref_last.append(b * 1000)
        log(f"(h) segment {index} ({start:.3f} s + {length:.6f} s, {sorted(sizes)} bytes): first byte ms "
            f"{first} vs {ref_first}; last byte ms {last} vs {ref_last}")
        note = f"segment {index} of {RENDITION}, {start:.1f} s + {length:.2f} s"
        row(label_first, t.name, median(first), "ms", "lower", note)
        row(label_first, "ref", median(ref_first), "ms", "lower")
        row(label_last, t.name, median(last), "ms", "lower")
        row(label_last, "ref", median(ref_last), "ms", "lower")


if __name__ == "__main__":
    main()
