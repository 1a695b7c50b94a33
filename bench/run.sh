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
core_src=${CORE_SRC:-$(ls src/*.c | grep -Ev '/(l[a-z]+|sqlite_store)\.c$')}
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
row "C core, batches of 16" "$(rate core.txt '^batch parse\+classify')" 5000000
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
  [ "$name" = bench_message ] && continue   # in the messages section below
  echo
  echo "== $name"
  # shellcheck disable=SC2086
  if ${CC:-cc} -O2 -g -std=c99 -Isrc -o "$out/$name" "$f" $core_src && "$out/$name" "$runs" "$secs"; then :
  else failed="$failed $name"; fi
done
for f in bench/*.lua; do
  name=$(basename "$f" .lua)
  # scorers (make reference, robustness, zoo) are figures of accuracy, not speed
  case "$name" in classify|conformance|reference|robustness|zoo|scale|store_redis|store_shdict|messages|serve_wrk|policyd|verify) continue ;; esac
  for lua in lua5.4 luajit; do
    echo
    echo "== $name ($lua)"
    if "$lua" "$f" "$runs" "$secs"; then :; else failed="$failed $name($lua)"; fi
  done
done

# The Redis store (bench/store_redis.lua, Lua 5.4 and LuaJIT) against a
# private redis-server on a free 127.0.0.1 port, stopped whatever happens.
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  rdir=$(mktemp -d /tmp/bounce-bench-redis.XXXXXX)
  rport=$(lua5.4 -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); print(p); s:close()')
  stop_redis() { redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$rdir"; }
  trap stop_redis EXIT
  redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$rdir" \
    --daemonize yes --pidfile "$rdir/redis.pid" --logfile "$rdir/redis.log"
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  for lua in lua5.4 luajit; do
    echo
    echo "== store_redis ($lua)"
    if REDIS_PORT=$rport "$lua" bench/store_redis.lua "$runs" "$secs"; then :; else failed="$failed store_redis($lua)"; fi
  done
  policyd_redis=$rport
fi

# bounce policyd: Postfix policy requests over loopback, warm SQLite history
# (and Redis on the private server above), the server under Lua 5.4.
echo
echo "== policyd (Postfix policy service over loopback)"
if REDIS_PORT=${policyd_redis:-} lua5.4 bench/policyd.lua "$runs" "$secs"; then :; else failed="$failed policyd"; fi

if [ -n "${policyd_redis:-}" ]; then
  stop_redis
  trap - EXIT
else
  echo
  echo "== store_redis: redis-server not installed (apt-get install redis-server redis-tools): skipped"
fi

# The nginx shared-dict store inside one nginx worker (bench/store_shdict.lua
# starts and stops its own nginx; skips itself without nginx's Lua module).
echo
echo "== store_shdict (inside nginx, LuaJIT)"
if lua5.4 bench/store_shdict.lua "$runs" "$secs"; then :; else failed="$failed store_shdict"; fi

# Bounce messages: the files named in $corpus/labels.jsonl, read
# into memory, through bnc_message_parse (C), bounce.parse (Lua 5.4, LuaJIT)
# and Sisimai->make; messages/s, the target, and the ratio to Sisimai.
echo
echo "== messages: the files of $corpus/labels.jsonl, median of $runs runs x ${secs}s, one core"
# shellcheck disable=SC2086
if ${CC:-cc} -O2 -g -std=c99 -Isrc -o "$out/bench_message" bench/bench_message.c $core_src &&
   "$out/bench_message" "$runs" "$secs" "$corpus" | tee "$out/msg_c.txt"; then :
else failed="$failed bench_message"; fi
for lua in lua5.4 luajit; do
  if "$lua" bench/messages.lua "$runs" "$secs" "$corpus" | tee "$out/msg_$lua.txt"; then :
  else failed="$failed messages($lua)"; fi
done
if perl -MSisimai -e 1 2>/dev/null; then
  if perl bench/sisimai_messages.pl "$runs" "$secs" "$corpus" | tee "$out/msg_sisimai.txt"; then :
  else failed="$failed sisimai_messages"; fi
else
  echo "Sisimai not installed (apt-get install libsisimai-perl): no comparison" | tee "$out/msg_sisimai.txt"
fi
mrate() { grep -oE '[0-9]+ messages/s' "$out/$1" 2>/dev/null | head -1 | cut -d' ' -f1; }
msis=$(mrate msg_sisimai.txt || true)
echo
printf '%-30s %14s %12s %12s\n' "what" "messages/s" "target" "x Sisimai"
mrow() {  # label value
  local ratio="-" status=""
  if [ -n "$msis" ] && [ -n "$2" ]; then ratio=$(awk -v a="$2" -v b="$msis" 'BEGIN { printf "%.0fx", a / b }'); fi
  if [ -n "$2" ]; then status=$(awk -v a="$2" 'BEGIN { print (a >= 20000 ? "  met" : "  BELOW") }'); fi
  printf '%-30s %14s %12s %12s%s\n' "$1" "$2" 20000 "$ratio" "$status"
}
mrow "bnc_message_parse (C)" "$(mrate msg_c.txt || true)"
mrow "bounce.parse, Lua 5.4" "$(mrate msg_lua5.4.txt || true)"
mrow "bounce.parse, LuaJIT" "$(mrate msg_luajit.txt || true)"
if [ -n "$msis" ]; then printf '%-30s %14s %12s %12s\n' "Sisimai->make (Perl)" "$msis" "-" "1x (aim: 100x)"; fi
if [ -n "$failed" ]; then echo; echo "bench: FAILED:$failed"; exit 1; fi

# The SQLite store's size on disk at 100k addresses (bench/store_sqlite.lua;
# its throughput figures ran in the loop above).
echo
echo "== store_sqlite size"
lua5.4 bench/store_sqlite.lua --size 100000

# How cost grows at 10^4 and 10^5 addresses (bench/scale.lua; all sizes up
# to 10^7 and Redis: make bench-scale), Lua 5.4, 3 runs x 0.2 s: about 6 s.
echo
echo "== scale (lua5.4)"
lua5.4 bench/scale.lua 3 0.2 --sizes 10000,100000 --redis none

# bounce.verify against loopback servers (bench/verify.lua starts and stops
# nsd, spec/support/dns_hostile.py and aiosmtpd): addresses/s without and
# with the SMTP probe.
for lua in lua5.4 luajit; do
  echo
  echo "== verify ($lua)"
  if "$lua" bench/verify.lua "$runs" "$secs"; then :; else echo "bench: FAILED: verify($lua)"; exit 1; fi
done

# bounce serve under wrk: shdict and Redis stores, then Redis killed and
# restarted mid-run (bench/serve_wrk.sh; skips itself without wrk, nginx or
# redis-server). Runs of 10x BENCH_SECONDS (at least 2 s; WRK_SECONDS sets
# them), the fault run twice that: about 25 s at the default 0.5.
echo
wrk_secs=${WRK_SECONDS:-$(awk -v s="$secs" 'BEGIN { s = int(s * 10 + 0.5); print (s < 2 ? 2 : s) }')}
if WRK_SECONDS=$wrk_secs bash bench/serve_wrk.sh; then :; else echo "bench: FAILED: serve_wrk"; exit 1; fi
