#!/usr/bin/env bash
# Runs tapedeck's whole test suite: the guest's policy tables natively, then the
# integration tests against the real binary. Installs the CLI tools the tests use
# to make real audio files (ffmpeg, wavpack) and to compare with (curl, nginx).
set -euo pipefail
cd "$(dirname "$0")/.."

needed=()
for tool in ffmpeg:ffmpeg wavpack:wavpack wvunpack:wavpack curl:curl nginx:nginx; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || needed+=("${tool#*:}")
done
if [ ${#needed[@]} -gt 0 ]; then
  echo "test.sh: installing ${needed[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${needed[@]}" >/dev/null ||
    { echo "test.sh: could not install ${needed[*]}; install them and run again" >&2; exit 1; }
fi

cargo test --release --workspace "$@"
