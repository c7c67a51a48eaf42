#!/usr/bin/env bash
# Runs tapedeck's whole test suite: the guests' policy tables natively, then the
# integration tests against the real binary. Installs the CLI tools the tests use
# to make real audio files (ffmpeg, wavpack, python3-mutagen), to compare with (curl,
# nginx) and to drive the web player (chromium, node with playwright-core).
set -euo pipefail
cd "$(dirname "$0")/.."

needed=()
for tool in ffmpeg:ffmpeg wavpack:wavpack wvunpack:wavpack curl:curl nginx:nginx \
  chromium:chromium node:nodejs npm:npm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || needed+=("${tool#*:}")
done
command -v python3 >/dev/null 2>&1 || needed+=(python3 python3-pip)
if [ ${#needed[@]} -gt 0 ]; then
  echo "test.sh: installing ${needed[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${needed[@]}" >/dev/null ||
    { echo "test.sh: could not install ${needed[*]}; install them and run again" >&2; exit 1; }
fi

# mutagen writes the tags the library tests read back (the python3 on PATH may not be
# Debian's, so it gets pip's).
python3 -c 'import mutagen' 2>/dev/null ||
  python3 -m pip install --quiet mutagen 2>/dev/null ||
  python3 -m pip install --quiet --break-system-packages mutagen
# The browser test's client library, pinned by tests/browser/package-lock.json.
(cd tests/browser && npm ci --no-audit --no-fund --silent)

cargo test --release --workspace "$@"
