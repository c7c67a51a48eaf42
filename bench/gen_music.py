"""Generate the benchmark's music library (deterministic, so it can be cached).

Usage: gen_music.py DIR

Layout (all names relative to DIR, which is what both servers serve):
  Album/01 - Long Track.flac   200 MiB of random bytes: full-file throughput and seeks
  ranges/r000.mp3 .. r999.mp3  1000 files of 1 MiB: random 64 KiB ranges over many files
  WavPack/ten-minutes.wv       10 min, 44.1 kHz stereo 16-bit: transcode throughput
  WavPack/one-hour.wv          60 min, same format: seek to 90 %

The audio is a few sines plus noise, so WavPack compresses it about as well as music
and its decoder does realistic work. Random bytes suit the plain files: neither server
looks inside them, and no page of them is accidentally shared or compressible.
"""

import array
import math
import os
import random
import subprocess
import sys
import tempfile

MIB = 1024 * 1024
RATE = 44100


def write_random(path, size, rng):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(rng.randbytes(n))
            left -= n


def pcm_block(seconds, rng):
    """`seconds` of stereo 16-bit PCM: three sines per channel plus noise."""
    samples = array.array("h")
    for i in range(seconds * RATE):
        t = i / RATE
        left = 6000 * math.sin(2 * math.pi * 220 * t) + 3000 * math.sin(2 * math.pi * 554 * t)
        right = 6000 * math.sin(2 * math.pi * 330 * t) + 3000 * math.sin(2 * math.pi * 880 * t)
        samples.append(int(left + rng.gauss(0, 500)))
        samples.append(int(right + rng.gauss(0, 500)))
    if sys.byteorder != "little":
        samples.byteswap()
    return samples.tobytes()


def write_wv(path, minutes, block):
    """Write `minutes` of audio (the block repeated) as WAV, then pack it with `wavpack`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data_len = minutes * 60 * RATE * 4
    with tempfile.NamedTemporaryFile(suffix=".wav", dir=os.path.dirname(path)) as wav:
        header = b"RIFF" + (36 + data_len).to_bytes(4, "little") + b"WAVEfmt "
        header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (2).to_bytes(2, "little")
        header += RATE.to_bytes(4, "little") + (RATE * 4).to_bytes(4, "little")
        header += (4).to_bytes(2, "little") + (16).to_bytes(2, "little")
        header += b"data" + data_len.to_bytes(4, "little")
        wav.write(header)
        written = 0
        while written < data_len:
            chunk = block[: data_len - written]
            wav.write(chunk)
            written += len(chunk)
        wav.flush()
        subprocess.run(["wavpack", "-q", "-y", wav.name, "-o", path], check=True)


def main():
    root = sys.argv[1]
    rng = random.Random(20261125)
    write_random(os.path.join(root, "Album", "01 - Long Track.flac"), 200 * MIB, rng)
    for i in range(1000):
        write_random(os.path.join(root, "ranges", f"r{i:03d}.mp3"), MIB, rng)
    block = pcm_block(10, rng)  # 10 s, repeated: generating an hour sample by sample is slow
    write_wv(os.path.join(root, "WavPack", "ten-minutes.wv"), 10, block)
    write_wv(os.path.join(root, "WavPack", "one-hour.wv"), 60, block)


if __name__ == "__main__":
    main()
