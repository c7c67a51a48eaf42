#!/usr/bin/env bash
# tapedeck vs nginx benchmark: one command, about 5 minutes (`--quick`: about 2).
#
#   bash bench/run.sh [--quick]
#
# Builds tapedeck in release, installs what is missing (nginx, wrk, curl, python3, wavpack,
# iproute2) with apt-get, generates a music library once (cached in target/bench-data/),
# starts tapedeck and nginx on 127.0.0.1 serving that same directory under /stream/, runs
# workloads (a)-(h) against both ((e)-(h) beside a reference tool, not nginx; see the
# bench/*.py headers), prints the table and rewrites
# the results section of bench/RESULTS.md. Every process started here is recorded by PID
# and stopped by PID on exit. Servers' logs of the last run: target/bench-data/last-*.log.
set -euo pipefail

QUICK=
case "${1:-}" in
  --quick) QUICK=--quick ;;
  "") ;;
  *) echo "usage: bash bench/run.sh [--quick]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
DATA=$ROOT/target/bench-data
MUSIC=$DATA/music
BIN=$ROOT/target/release/tapedeck
STARTED=$SECONDS
log() { echo "[bench $((SECONDS - STARTED))s] $*" >&2; }

# --- processes we start, stopped by PID on exit --------------------------------------------
PIDS=()
TMP=$(mktemp -d /tmp/tapedeck-bench.XXXXXX)
stop_pid() {  # stop_pid PID: SIGTERM, up to 12 s (tapedeck drains for 10 s), then SIGKILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "PID $pid still running 12 s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  cp "$TMP/tapedeck.log" "$DATA/last-tapedeck.log" 2>/dev/null || true
  cp "$TMP/nginx/error.log" "$DATA/last-nginx-error.log" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ---------------------------------------------------------------------------------
missing=()
for pair in nginx:nginx wrk:wrk curl:curl python3:python3 wavpack:wavpack wvunpack:wavpack ss:iproute2; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  SUDO=; ((EUID)) && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -c 'import sys; assert sys.version_info >= (3, 11), "python3 >= 3.11 needed"'
# 1000 slow readers need 1000+ descriptors in the client and in each server.
hard=$(ulimit -Hn); [[ $hard == unlimited ]] && hard=65536
ulimit -n "$hard"

# --- tapedeck build ------------------------------------------------------------------------
log "cargo build --release -p tapedeck"
TAPEDECK_BUILT=1
(cd "$ROOT" && cargo build --release -p tapedeck) || { TAPEDECK_BUILT=0; log "build failed: tapedeck rows will read n/a"; }

# --- music library (cached; regenerated when gen_music.py changes) ---------------------------
stamp=$(sha256sum "$BENCH/gen_music.py" | cut -c1-16)
if [[ ! -d $MUSIC || "$(cat "$DATA/music.stamp" 2>/dev/null)" != "$stamp" ]]; then
  log "generating the music library in $MUSIC (once; about 30 s)"
  mkdir -p "$DATA"
  rm -rf "$MUSIC" "$MUSIC.tmp" "$DATA/music.stamp"
  python3 "$BENCH/gen_music.py" "$MUSIC.tmp"
  mv "$MUSIC.tmp" "$MUSIC"
  echo "$stamp" >"$DATA/music.stamp"
fi
log "warming the page cache"
cat "$MUSIC"/Album/* "$MUSIC"/ranges/* "$MUSIC"/WavPack/* >/dev/null

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- servers -------------------------------------------------------------------------------
TARGETS=()
if ((TAPEDECK_BUILT)); then
  "$BIN" serve --music-dir "$MUSIC" --listen 127.0.0.1:0 2>"$TMP/tapedeck.log" &
  TAPEDECK_PID=$!
  PIDS+=("$TAPEDECK_PID")
  TAPEDECK_PORT=
  for ((i = 0; i < 100; i++)); do
    TAPEDECK_PORT=$(grep -om1 'listening on http://127\.0\.0\.1:[0-9]*/' "$TMP/tapedeck.log" | grep -o '[0-9]*/$' | tr -d /) || true
    [[ -n $TAPEDECK_PORT ]] || ! kill -0 "$TAPEDECK_PID" 2>/dev/null && break
    sleep 0.1
  done
  if [[ -n $TAPEDECK_PORT ]]; then
    TARGETS+=(--target "tapedeck,$TAPEDECK_PORT,$TAPEDECK_PID")
    log "tapedeck PID $TAPEDECK_PID on 127.0.0.1:$TAPEDECK_PORT"
  else
    log "tapedeck did not start: $(head -c 2000 "$TMP/tapedeck.log")"
  fi
fi

mkdir -p "$TMP/nginx"
NGINX_PORT=$(free_port)
user_line=; ((EUID)) || user_line="user $(id -un) $(id -gn);"
cat >"$TMP/nginx/nginx.conf" <<EOF
$user_line
worker_processes 2;
worker_rlimit_nofile 16384;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  default_type application/octet-stream;
  types { audio/mpeg mp3; audio/flac flac; audio/x-wavpack wv; }
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location /stream/ { alias $MUSIC/; }
  }
}
EOF
nginx -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for ((i = 0; i < 100; i++)); do
  curl -s -o /dev/null -I "http://127.0.0.1:$NGINX_PORT/stream/ranges/r000.mp3" && break
  kill -0 "$NGINX_PID" 2>/dev/null || { log "nginx did not start: $(cat "$TMP/nginx/error.log")"; exit 1; }
  sleep 0.1
done
TARGETS+=(--target "nginx,$NGINX_PORT,$NGINX_PID")
log "nginx $(nginx -v 2>&1 | grep -o '[0-9.]*$') PID $NGINX_PID on 127.0.0.1:$NGINX_PORT"

# One warm-up request each (a first request may pay one-time set-up).
for t in "${TARGETS[@]}"; do
  [[ $t == --target ]] && continue
  IFS=, read -r name port _ <<<"$t"
  code=$(curl -s -o /dev/null -w '%{http_code}' -r 0-65535 "http://127.0.0.1:$port/stream/ranges/r000.mp3")
  log "warm-up range request to $name: HTTP $code"
done

# --- workloads -----------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
run() {  # run HELPER ARGS...: its rows go to $RESULTS; a crash becomes a row, not the end
  python3 "$BENCH/$1" --music-dir "$MUSIC" $QUICK "${@:2}" >>"$RESULTS" ||
    echo "{\"row\": \"$1 failed (exit $?, see the log above)\", \"server\": \"\", \"value\": null, \"unit\": \"\", \"better\": \"\", \"note\": null}" >>"$RESULTS"
  sleep 1
}
log "(a) full-file throughput";          run full_get.py "${TARGETS[@]}"
log "(b) random 64 KiB ranges (wrk)";    run wrk_ranges.py "${TARGETS[@]}"
log "(c) browser-style seeks";           run seeks.py "${TARGETS[@]}"
log "(d) 1000 slow readers";             run slow_readers.py "${TARGETS[@]}"
log "(e) WavPack transcoding"
if [[ -n ${TAPEDECK_PORT:-} ]]; then
  run transcode.py --target "tapedeck,$TAPEDECK_PORT,$TAPEDECK_PID"
  log "(f) MP3 transcoding";              run mp3.py --target "tapedeck,$TAPEDECK_PORT,$TAPEDECK_PID"
  log "(g) library listing";              run browse.py --target "tapedeck,$TAPEDECK_PORT,$TAPEDECK_PID"
  log "(h) HLS segment at 90 %";          run hls.py --target "tapedeck,$TAPEDECK_PORT,$TAPEDECK_PID"
else
  echo '{"row": "(e) .wv→WAV transcode", "server": "tapedeck", "value": null, "unit": "", "better": "", "note": "tapedeck not running"}' >>"$RESULTS"
fi

# --- observations, then stop the servers (tapedeck first, timed) ---------------------------
NOTES=$TMP/notes.txt
echo "load average before the workloads: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews both columns)" >"$NOTES"
if [[ -n ${TAPEDECK_PORT:-} ]]; then
  if ! kill -0 "$TAPEDECK_PID" 2>/dev/null; then
    code=0; wait "$TAPEDECK_PID" || code=$?
    echo "tapedeck exited during the run (status $code): see target/bench-data/last-tapedeck.log" >>"$NOTES"
  fi
  warn=$(grep -cE ' (WARN|ERROR) ' "$TMP/tapedeck.log" || true)
  echo "tapedeck log: $(wc -l <"$TMP/tapedeck.log") lines, $warn WARN/ERROR" >>"$NOTES"
  grep -E ' (WARN|ERROR) ' "$TMP/tapedeck.log" | sed -E 's/^[^ ]+ +//' | sort | uniq -c | sort -rn | head -3 |
    sed 's/^ */tapedeck log, count × line: /' >>"$NOTES" || true
  t0=$(date +%s.%N)
  stop_pid "$TAPEDECK_PID"
  echo "tapedeck stopped $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s after SIGTERM" >>"$NOTES"
fi
nginx_errors=$(grep -c . "$TMP/nginx/error.log" || true)
((nginx_errors)) && echo "nginx error.log: $nginx_errors lines, first: $(head -1 "$TMP/nginx/error.log")" >>"$NOTES"

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no-commit")
[[ -n $(git -C "$ROOT" status --porcelain -- . ':!bench/RESULTS.md' 2>/dev/null) ]] && commit+=-dirty
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
python3 "$BENCH/table.py" --results "$RESULTS" --out "$BENCH/RESULTS.md" --notes "$NOTES" \
  --commit "$commit" --machine "$(nproc) cores ($cpu), Linux $(uname -r)" \
  --mode "${QUICK:-full}, $((SECONDS - STARTED)) s"
log "done in $((SECONDS - STARTED)) s; table written to bench/RESULTS.md"
