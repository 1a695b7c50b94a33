#!/bin/bash
# Builds and runs every libFuzzer target fuzz/fuzz_*.c for SECONDS each.
#   bash fuzz/run.sh [SECONDS]          (default 60; `make fuzz FUZZ_SECONDS=30`)
#   FUZZ_TARGETS="fuzz_reply" FUZZ_MAX_LEN=1048576 bash fuzz/run.sh 600
# Per target, optional companions: fuzz/NAME.seeds (sh script filling a seed
# dir given as $1) and fuzz/NAME.dict (libFuzzer dictionary).
# The working corpus is kept in build/fuzz/corpus/NAME between runs; crashes
# land in build/fuzz/artifacts/. Exits non-zero when any target fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
max_len=${FUZZ_MAX_LEN:-4096}
cc=${FUZZ_CC:-clang}
# The core sources come from the Makefile (CORE_SRC); all of src/ but the
# Lua binding otherwise.
core_src=${CORE_SRC:-$(ls src/*.c | grep -Ev '/(l[a-z]+|sqlite_store)\.c$')}
out=build/fuzz
mkdir -p "$out/artifacts"

targets=${FUZZ_TARGETS:-$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)}
failed=""
for name in $targets; do
  echo "== $name: build"
  # shellcheck disable=SC2086
  "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Isrc -o "$out/$name" "fuzz/$name.c" $core_src
  seeds="$out/seeds/$name"
  corpus="$out/corpus/$name"
  rm -rf "$seeds"
  mkdir -p "$seeds" "$corpus"
  if [ -f "fuzz/$name.seeds" ]; then sh "fuzz/$name.seeds" "$seeds"; fi
  dict=()
  if [ -f "fuzz/$name.dict" ]; then dict=(-dict="fuzz/$name.dict"); fi
  echo "== $name: ${seconds}s, max_len $max_len"
  # New inputs go to the first dir (corpus); seeds are read only.
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     "$out/$name" "$corpus" "$seeds" "${dict[@]}" \
       -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/artifacts/$name-" -print_final_stats=1 \
       >"$out/$name.log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$out/$name.log" || true
    echo "== $name: ok"
  else
    tail -60 "$out/$name.log"
    echo "== $name: FAILED (log $out/$name.log, artifacts in $out/artifacts/)"
    failed="$failed $name"
  fi
done
if [ -n "$failed" ]; then echo "fuzz: failed:$failed"; exit 1; fi
echo "fuzz: all targets ok"
