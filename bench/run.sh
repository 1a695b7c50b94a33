#!/bin/bash
# Benchmarks, one core, medians of several runs; figures only, no pass/fail:
# the C core, bounce.classify from Lua 5.4 and LuaJIT, and Sisimai->match
# over the same reply lines (the shared corpus' reply texts).
#   bash bench/run.sh            (`make bench` builds the modules first)
#   BENCH_RUNS=7 BENCH_SECONDS=1 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${BENCH_RUNS:-5}
secs=${BENCH_SECONDS:-0.5}
corpus=${CORPUS:-../shared/corpus}
core_src=${CORE_SRC:-$(ls src/*.c | grep -v '/lbounce\.c$')}
out=build/bench
mkdir -p "$out"

# The reply texts, one per line (none of them contains a line break).
lua5.4 - "$corpus/replies.jsonl" >"$out/replies.txt" <<'LUA'
local cjson = require("cjson")
for l in io.lines(arg[1]) do
  if l:match("%S") then
    local t = cjson.decode(l).text
    assert(not t:find("[\r\n]"), "a reply text with a line break")
    print(t)
  end
end
LUA
lines="$out/replies.txt"

# shellcheck disable=SC2086
${CC:-cc} -O2 -g -std=c99 -Isrc -o "$out/bench_core" bench/bench_core.c $core_src

echo "bench: $(wc -l <"$lines") reply lines from $corpus/replies.jsonl, median of $runs runs x ${secs}s, one core"
"$out/bench_core" "$lines" "$runs" "$secs" | tee "$out/core.txt"
lua5.4 bench/classify.lua "$lines" "$runs" "$secs" | tee "$out/lua54.txt"
luajit bench/classify.lua "$lines" "$runs" "$secs" | tee "$out/luajit.txt"
if perl -MSisimai -e 1 2>/dev/null; then
  perl bench/sisimai.pl "$lines" "$runs" "$secs" | tee "$out/sisimai.txt"
else
  echo "Sisimai not installed (apt-get install libsisimai-perl): no comparison" | tee "$out/sisimai.txt"
fi

# The table: replies/s, target, ratio to Sisimai.
rate() { grep -E "$2" "$out/$1" | grep -oE '[0-9]+ replies/s' | cut -d' ' -f1; }
sis=$(rate sisimai.txt 'Sisimai' || true)
echo
printf '%-30s %14s %12s %12s\n' "what" "replies/s" "target" "x Sisimai"
row() {  # label value target
  local ratio="-" status=""
  if [ -n "$sis" ] && [ -n "$2" ]; then ratio=$(awk -v a="$2" -v b="$sis" 'BEGIN { printf "%.0fx", a / b }'); fi
  if [ "$3" != "-" ]; then
    status=$(awk -v a="$2" -v t="$3" 'BEGIN { print (a >= t ? "  met" : "  BELOW") }')
  fi
  printf '%-30s %14s %12s %12s%s\n' "$1" "$2" "$3" "$ratio" "$status"
}
row "C core parse only" "$(rate core.txt '^parse ')" "-"
row "C core parse+classify" "$(rate core.txt '^parse\+classify')" 5000000
row "bounce.classify, Lua 5.4" "$(rate lua54.txt .)" 1000000
row "bounce.classify, LuaJIT" "$(rate luajit.txt .)" 1500000
if [ -n "$sis" ]; then row "Sisimai->match (Perl)" "$sis" "-"; fi

# Other benchmarks, if any: bench/bench_*.c (C, with the core sources) and
# bench/*.lua under Lua 5.4 and LuaJIT, each given "RUNS SECONDS" and
# printing its own figures. A failing one is reported and fails the run.
failed=""
for f in bench/bench_*.c; do
  name=$(basename "$f" .c)
  [ "$name" = bench_core ] && continue
  echo
  echo "== $name"
  # shellcheck disable=SC2086
  if ${CC:-cc} -O2 -g -std=c99 -Isrc -o "$out/$name" "$f" $core_src && "$out/$name" "$runs" "$secs"; then :
  else failed="$failed $name"; fi
done
for f in bench/*.lua; do
  name=$(basename "$f" .lua)
  case "$name" in classify|conformance) continue ;; esac
  for lua in lua5.4 luajit; do
    echo
    echo "== $name ($lua)"
    if "$lua" "$f" "$runs" "$secs"; then :; else failed="$failed $name($lua)"; fi
  done
done
if [ -n "$failed" ]; then echo; echo "bench: FAILED:$failed"; exit 1; fi
