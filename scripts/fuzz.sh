#!/usr/bin/env bash
# Fuzzes the guest's parsers with cargo fuzz (libFuzzer), one target after another, each
# for a bounded time:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    # default: 60 s each, every target
#
# Each target starts from its hand-written, named inputs in fuzz/seeds/<target>/ and what
# earlier runs kept in fuzz/corpus/<target>/; inputs that reach new code are added to the
# latter. Both are kept in the repo and replayed by `cargo test` (guest/tests/fuzz_corpus.rs).
# A corpus past 200 files is minimised to the inputs that reach distinct code (`cargo fuzz
# cmin`, counting each edge once however often it runs); the seeds are never touched. A crash
# is saved in fuzz/artifacts/<target>/ (not kept) and makes the script exit 1 after the other
# targets have run. Not part of scripts/test.sh.
#
# Environment: CARGO_TARGET_DIR (default fuzz/target), FUZZ_SANITIZER (default none; e.g.
# address), FUZZ_CMIN_ABOVE (default 200 files).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-none}"
cmin_above="${FUZZ_CMIN_ABOVE:-200}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# With a sanitizer, cargo fuzz passes rustc `-Zsanitizer=…`, which the project's stable
# toolchain accepts only with RUSTC_BOOTSTRAP; the coverage flags it always passes are stable.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# The guest is safe Rust (`unsafe_code = "deny"`), so AddressSanitizer finds nothing a panic
# would not; without it a target runs about three times as many inputs. `-a` keeps the
# overflow checks and debug assertions that the release build would drop.
flags=(--sanitizer "$sanitizer" --debug-assertions)
cargo fuzz build "${flags[@]}"

crashed=()
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="$CARGO_TARGET_DIR/fuzz-$target.log"
  echo "fuzz.sh: $target for ${seconds}s" >&2
  status=0
  # One process, one input at a time: the machine is shared.
  cargo fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$status" -ne 0 ]; then
    crashed+=("$target")
    grep -E '^(thread|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' "$log" >&2 || true
  fi
  files=$(find "corpus/$target" -type f | wc -l)
  if [ "$status" -eq 0 ] && [ "$files" -gt "$cmin_above" ]; then
    cargo fuzz cmin "${flags[@]}" "$target" "corpus/$target" -- -use_counters=0 >>"$log" 2>&1
    files=$(find "corpus/$target" -type f | wc -l)
  fi
  summary+=("$(printf '%-14s %10s runs in %ss, corpus %s files%s' "$target" "${runs:-?}" \
    "$seconds" "$files" "$([ "$status" -ne 0 ] && echo ', CRASHED')")")
done

printf '%s\n' "${summary[@]}"
if [ ${#crashed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in ${crashed[*]}: see fuzz/artifacts/, logs in $CARGO_TARGET_DIR" >&2
  exit 1
fi
