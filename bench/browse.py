"""Workload (g): `/api/browse/` of a folder of 1,000 tagged tracks, beside a Python
`mutagen` listing of the same folder (tags and duration of each file) in the same run.

Both read every file: the library guest parses them inside its sandbox, two pages of 500.
"""

import os
import shutil
import subprocess
import time

from common import log, median, parser, row, timed_request

FOLDER = "Thousand"
TRACKS = 1000


def ensure_folder(music_dir):
    folder = os.path.join(music_dir, FOLDER)
    if len(os.listdir(folder) if os.path.isdir(folder) else []) == TRACKS:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    first = os.path.join(folder, "0001 - Track.mp3")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=f=440:d=30", "-b:a", "128k", "-metadata", "title=Track",
                    "-metadata", "artist=Artist", "-metadata", "album=Thousand", first], check=True)
    for n in range(2, TRACKS + 1):
        shutil.copyfile(first, os.path.join(folder, f"{n:04} - Track.mp3"))
    return folder


def mutagen_listing(folder):
    import mutagen
    start = time.perf_counter()
    for name in sorted(os.listdir(folder)):
        f = mutagen.File(os.path.join(folder, name))
        _ = (f.info.length, f.info.bitrate, f.tags and f.tags.get("TIT2"))
    return time.perf_counter() - start


def main():
    args = parser(__doc__).parse_args()
    reps = 3 if args.quick else 5
    folder = ensure_folder(args.music_dir)
    try:
        import mutagen  # noqa: F401
        have_mutagen = True
    except ImportError:
        have_mutagen = False
    for t in args.target:
        ours, ref = [], []
        for _ in range(reps):
            start = time.perf_counter()
            for offset in (0, 500):
                status, *_ = timed_request(t.port, f"/api/browse/{FOLDER}?limit=500&offset={offset}",
                                           keep=False)
                if status != 200:
                    row("(g) /api/browse of 1000 tracks", t.name, None, "", "", f"status {status}")
                    return
            ours.append((time.perf_counter() - start) * 1000)
            if have_mutagen:
                ref.append(mutagen_listing(folder) * 1000)
        log(f"(g) browse ms {ours} vs mutagen {ref}")
        label = "(g) /api/browse of 1000 tagged mp3s, 2 pages (ref: Python mutagen listing)"
        row(label, t.name, median(ours), "ms", "lower")
        row(label, "ref", median(ref) if ref else None, "ms", "lower",
            None if ref else "mutagen not installed")


if __name__ == "__main__":
    main()
