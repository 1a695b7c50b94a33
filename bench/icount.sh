#!/bin/bash
# Instruction counts (valgrind's cachegrind, no cache simulation): what one
# reply costs to parse, and to parse and classify (bench_core, one
# bnc_classify per reply, and in batches of 16), and what one corpus message
# costs through bnc_message_parse (bench_message). Each figure is the
# difference between a run of 1 pass and a run of 1 + PASSES passes,
# divided by the work of those passes: start-up, file reading and the
# rules' compilation cancel out. Counts hold still on a shared machine where
# wall time does not.
#   bash bench/icount.sh             (`make icount`)
#   ICOUNT_PASSES=20 bash bench/icount.sh
set -euo pipefail
cd "$(dirname "$0")/.."

passes=${ICOUNT_PASSES:-10}
corpus=${CORPUS:-../shared/corpus}
core_src=${CORE_SRC:?CORE_SRC: the core sources (make icount sets it)}
out=build/icount
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "icount: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

# The reply texts, one per line, as bench/run.sh writes them.
lua5.4 - "$corpus/replies.jsonl" >"$out/replies.txt" <<'LUA'
local cjson = require("cjson")
for l in io.lines(arg[1]) do
  if l:match("%S") then print((cjson.decode(l).text:gsub("[\r\n]", " "))) end
end
LUA
lines=$(grep -c . "$out/replies.txt")
messages=$(grep -c . "$corpus/labels.jsonl")

# shellcheck disable=SC2086
${CC:-cc} -O2 -g -std=c99 -Isrc -o "$out/bench_core" bench/bench_core.c $core_src
# shellcheck disable=SC2086
${CC:-cc} -O2 -g -std=c99 -Isrc -o "$out/bench_message" bench/bench_message.c $core_src

# Instructions executed by the command given, with P passes: @P@ in the
# arguments and BENCH_PASSES in the environment (bench_message reads it).
irefs() {  # P command...
  local p=$1
  shift
  # shellcheck disable=SC2046
  BENCH_PASSES=$p valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    $(printf '%s\n' "$@" | sed "s/@P@/$p/") 2>&1 >/dev/null |
    awk '/I *refs:/ { gsub(",", "", $NF); print $NF }'
}
# Instructions per unit: (run of 1 + passes) - (run of 1), / (passes * units).
per() {  # units command...
  local one many
  one=$(irefs 1 "${@:2}")
  many=$(irefs $((passes + 1)) "${@:2}")
  awk -v a="$one" -v b="$many" -v n="$1" -v p="$passes" 'BEGIN { printf "%.0f", (b - a) / (p * n) }'
}

parse=$(per "$lines" "$out/bench_core" "$out/replies.txt" --passes @P@ 0)
classify=$(per "$lines" "$out/bench_core" "$out/replies.txt" --passes @P@ 1)
batch=$(per "$lines" "$out/bench_core" "$out/replies.txt" --passes @P@ 2)
message=$(per "$messages" "$out/bench_message" 1 0 "$corpus")

echo "icount: instructions (cachegrind), $passes passes over $lines reply lines and $messages messages of $corpus"
printf '%-40s %10s\n' "per reply, parse" "$parse"
printf '%-40s %10s\n' "per reply, parse + bnc_classify" "$classify"
printf '%-40s %10s\n' "per reply, classify alone" "$((classify - parse))"
printf '%-40s %10s\n' "per reply, parse + bnc_classify_batch" "$batch"
printf '%-40s %10s\n' "per message, bnc_message_parse" "$message"
