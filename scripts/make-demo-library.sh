#!/usr/bin/env bash
# Generates tapedeck's demo music library in `demo/`: a few seconds of a distinct sine tone in
# each format the server streams (mp3, flac, wav, m4a, ogg/vorbis, opus, wma, wv), small enough
# to live in the repository (well under 1 MiB) so the README's run command serves something
# playable with no MUSIC_DIR given.
#
# Usage: scripts/make-demo-library.sh [OUT_DIR]   (default: <repo>/demo; the folder is replaced)
# Needs: ffmpeg (with libmp3lame, libvorbis, libopus) and the `wavpack` CLI.
#
# The output is deterministic for a given ffmpeg/wavpack version: `-bitexact` keeps encoder
# version strings out and fixes Ogg serial numbers; the only tags are the ones set here
# (title, artist, album, track), and each folder has a generated `cover.png`, so the web
# player has something to show.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo_root/demo}"
seconds=3
max_bytes=$((1024 * 1024))

for tool in ffmpeg wavpack du; do
    command -v "$tool" >/dev/null || { echo "error: \`$tool\` not found (apt-get install ffmpeg wavpack)" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# encode FREQ RATE OUTFILE CODEC_ARGS...: a faded mono sine of FREQ Hz, sampled at RATE Hz,
# lasting $seconds seconds, into OUTFILE, tagged with the album of its folder.
encode() {
    local freq="$1" rate="$2" dest="$3"
    shift 3
    local name track album
    name="$(basename "$dest")"
    track="${name%% *}"
    [[ "$track" =~ ^[0-9]+$ ]] || track=0
    album="$(basename "$(dirname "$dest")")"
    [ "$album" = "$(basename "$out")" ] && album="Loose"
    mkdir -p "$(dirname "$dest")"
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "sine=frequency=${freq}:sample_rate=${rate}:duration=${seconds}" \
        -af "afade=t=in:d=0.05,afade=t=out:st=$((seconds - 1)).9:d=0.1" \
        -ac 1 -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
        -metadata title="Sine ${freq} Hz" -metadata artist="tapedeck" \
        -metadata album="$album" -metadata track="$((10#$track))" \
        "$@" "$dest"
}

# cover DIR HUE: a small generated picture as DIR/cover.png.
cover() {
    ffmpeg -nostdin -hide_banner -loglevel error -y \
        -f lavfi -i "gradients=s=160x160:c0=0x1d3557:c1=$2:x0=0:y0=0:x1=160:y1=160:nb_colors=2" \
        -frames:v 1 -fflags +bitexact "$1/cover.png"
}

rm -rf "$out"
mkdir -p "$out"

# A nested folder, and a UTF-8 name with spaces (the case clients most often get wrong).
encode 440 16000 "$out/Tones/01 - A440 café.flac" -c:a flac -compression_level 8
encode 494 22050 "$out/Tones/02 - B494.mp3"       -c:a libmp3lame -b:a 32k
encode 523 22050 "$out/Tones/03 - C523.m4a"       -c:a aac -b:a 32k -movflags +faststart
encode 587 22050 "$out/Tones/04 - D587.ogg"       -c:a libvorbis -q:a 0
encode 659 16000 "$out/Tones/05 - E659.opus"      -c:a libopus -b:a 24k
encode 698 8000  "$out/06 - F698.wav"             -c:a pcm_s16le
# Formats browsers cannot play (they need the server's transcode), in their own folder.
encode 784 22050 "$out/Legacy/07 - G784.wma"      -c:a wmav2 -b:a 32k
encode 880 8000  "$tmp/g880.wav"                  -c:a pcm_s16le
wavpack -q -y -h "$tmp/g880.wav" -o "$out/Legacy/08 - A880.wv"
command -v wvtag >/dev/null &&
    wvtag -q -w "Title=Sine 880 Hz" -w "Artist=tapedeck" -w "Album=Legacy" -w "Track=8" \
        "$out/Legacy/08 - A880.wv"
cover "$out/Tones" 0xe63946
cover "$out/Legacy" 0x2a9d8f

total=$(du -sb "$out" | cut -f1)
if (( total >= max_bytes )); then
    echo "error: demo library is $total bytes, over the $max_bytes byte budget" >&2
    exit 1
fi
echo "wrote $(find "$out" -type f | wc -l) files, $total bytes, to $out" >&2
