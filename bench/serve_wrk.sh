#!/bin/bash
# bounce serve under load, and under a Redis crash: wrk POSTs Postmark hard
# bounces (bench/serve_wrk.lua, one new recipient per request) to
# `bin/bounce serve` (2 workers, a free 127.0.0.1 port, a prefix under /tmp):
#   1. shdict store;
#   2. redis store (private redis-server, no persistence);
#   3. redis store with appendonly yes + appendfsync always, Redis killed
#      (SIGKILL) a third into the run and started again a second later.
# For each: requests/s, p99 latency, and the store checked against what wrk
# was told: every recipient answered 2xx is stored (missing must be 0), and
# the store holds nothing beyond them except requests wrk sent but whose
# answer it never read (in flight when wrk stopped or when Redis died).
#   bash bench/serve_wrk.sh                 (WRK_SECONDS=5 per run; the
#   WRK_SECONDS=10 WRK_CONNECTIONS=64 bash bench/serve_wrk.sh   fault run: 2x)
# Prints a table; exits 1 when an acknowledged event is missing or the fault
# run does not show 2xx, then 503 only, then 2xx. Skips (exit 0) without
# wrk, nginx with its Lua module, redis-server or nginx.redis.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${WRK_SECONDS:-5}
threads=${WRK_THREADS:-2}
conns=${WRK_CONNECTIONS:-32}
outage=${WRK_OUTAGE:-1}
token=bench-token-$$-$RANDOM

missing_tools=""
for t in wrk redis-server redis-cli curl lua5.4; do
  command -v "$t" >/dev/null || missing_tools="$missing_tools $t"
done
[ -x /usr/sbin/nginx ] && [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || missing_tools="$missing_tools nginx+lua"
[ -f /usr/share/lua/5.1/nginx/redis.lua ] || [ -f /usr/share/lua/5.1/resty/redis.lua ] ||
  missing_tools="$missing_tools nginx.redis"
if [ -n "$missing_tools" ]; then
  echo "serve_wrk: skipped, missing:$missing_tools (apt-get install wrk nginx libnginx-mod-http-lua" \
    "lua-resty-core lua-nginx-redis redis-server redis-tools curl)"
  exit 0
fi
[ -f build/luajit/bounce/core.so ] || make -s LUA=luajit all >/dev/null

tmp=$(mktemp -d /tmp/bounce-wrk.XXXXXX)
chmod 755 "$tmp"
serve_pids=""
redis_ports=""
cleanup() {
  for p in $serve_pids; do kill -TERM "$p" 2>/dev/null || true; done
  for d in "$tmp"/serve-*; do
    for _ in $(seq 100); do [ -f "$d/logs/nginx.pid" ] || break; sleep 0.1; done
  done
  for p in $redis_ports; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  [ -n "${BOUNCE_KEEP_WRK:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  lua5.4 -e 'local s = require("socket").bind("127.0.0.1", 0); local _, p = s:getsockname(); print(p); s:close()'
}

# start_serve NAME STORE: starts bin/bounce serve; sets $port and $pid.
start_serve() {
  local name=$1 store=$2
  port=$(free_port)
  lua5.4 bin/bounce serve --listen "127.0.0.1:$port" --prefix "$tmp/serve-$name" --token "$token" \
    --workers 2 --store "$store" >"$tmp/$name.out" 2>&1 &
  pid=$!
  serve_pids="$serve_pids $pid"
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "serve_wrk: bounce serve ($name) did not start:" >&2
  cat "$tmp/$name.out" "$tmp/serve-$name/logs/error.log" >&2 2>/dev/null || true
  exit 1
}

# start_redis DIR PORT [ARGS...]: a redis-server on 127.0.0.1:PORT, daemonized.
start_redis() {
  local dir=$1 p=$2
  shift 2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$p" --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" "$@"
  case " $redis_ports " in *" $p "*) ;; *) redis_ports="$redis_ports $p" ;; esac
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$p" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  echo "serve_wrk: redis-server did not start on $p:" >&2
  cat "$dir/redis.log" >&2
  exit 1
}

# run_wrk NAME SECONDS TAG: wrk against $port; its files land in $tmp/NAME/.
run_wrk() {
  mkdir -p "$tmp/$1"
  wrk -t"$threads" -c"$conns" -d"$2"s --timeout 5s -s bench/serve_wrk.lua "http://127.0.0.1:$port" \
    -- "$tmp/$1" "$3" "$token" >"$tmp/$1/wrk.txt" 2>&1 || { cat "$tmp/$1/wrk.txt" >&2; exit 1; }
  grep '^RESULT ' "$tmp/$1/wrk.txt" | sed 's/^RESULT //' >"$tmp/$1/result"
}

# stored_shdict NAME: the suppressed recipients, paged from GET /suppressions.
stored_shdict() {
  local after="" hdr="$tmp/$1/headers"
  : >"$tmp/$1/stored.txt"
  while :; do
    # the first page has no `after` (an empty value is a 400)
    curl -s -D "$hdr" -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$port/suppressions?format=csv&limit=10000${after:+&after=$after}" |
      tr -d '\r' | tail -n +2 | cut -d, -f1 >>"$tmp/$1/stored.txt"
    after=$(tr -d '\r' <"$hdr" | sed -n 's/^[Xx]-[Nn]ext-[Aa]fter: //p')
    [ -n "$after" ] || break
  done
}

# stored_redis NAME PORT: the recipients with a key in Redis.
stored_redis() {
  redis-cli -p "$2" --scan --pattern 'bounce:{*' | sed 's/^bounce:{//; s/}$//' >"$tmp/$1/stored.txt"
}

# check NAME ACCESS_LOG [fault]: compares the store with wrk's answers;
# writes "key=value" figures to $tmp/NAME/check, exits 1 on a lost event.
check() {
  lua5.4 - "$tmp/$1" "$2" "$conns" "${3:-}" >"$tmp/$1/check" <<'LUA'
local dir, access, conns, fault = arg[1], arg[2], tonumber(arg[3]), arg[4] == "fault"
local function lines(path)
  local t = {}
  for l in io.lines(path) do if l ~= "" then t[#t + 1] = l end end
  return t
end
local acked, stored, sent = {}, {}, {}
local n_acked, n_stored = 0, 0
for _, r in ipairs(lines(dir .. "/acked.txt")) do
  if not acked[r] then acked[r], n_acked = true, n_acked + 1 end
end
for _, r in ipairs(lines(dir .. "/stored.txt")) do
  if not stored[r] then stored[r], n_stored = true, n_stored + 1 end
end
for _, l in ipairs(lines(dir .. "/sent.txt")) do
  local t, k = l:match("^(%d+) (%d+)$")
  sent[tonumber(t)] = tonumber(k)
end
local missing, unread, phantom = 0, 0, 0
for r in pairs(acked) do if not stored[r] then missing = missing + 1 end end
for r in pairs(stored) do
  if not acked[r] then
    -- stored without a 2xx that wrk read: must be a request wrk sent
    local t, k = r:match("^[%w]+%-(%d+)%-(%d+)@load%.example$")
    if t and sent[tonumber(t)] and tonumber(k) <= sent[tonumber(t)] then unread = unread + 1
    else phantom = phantom + 1 end
  end
end
-- the server's side: POSTs nginx logged as answered 200
local served = 0
for l in io.lines(access) do
  if l:find('"POST /webhooks/postmark HTTP/1.1" 200 ', 1, true) then served = served + 1 end
end
-- fault run: per thread, 2xx first, then the outage's 503s, then 2xx again
local shape = "-"
if fault then
  local ok_shape, parts = true, {}
  for _, l in ipairs(lines(dir .. "/timeline.txt")) do
    local runs = {}
    for c, k in l:match("^%d+ (.*)$"):gmatch("(%S+) (%d+)") do runs[#runs + 1] = { c, tonumber(k) } end
    local first, last, seen503 = runs[1], runs[#runs], false
    for _, r in ipairs(runs) do
      if r[1] == "503" then seen503 = true
      elseif r[1] ~= "2xx" then ok_shape = false end
    end
    if not (first and first[1] == "2xx" and last[1] == "2xx" and seen503) then ok_shape = false end
    parts[#parts + 1] = #runs
  end
  shape = (ok_shape and "2xx>503>2xx" or "BAD") .. "[runs:" .. table.concat(parts, "/") .. "]"
  if not ok_shape then io.stderr:write("serve_wrk: the fault run's answers are not 2xx, 503, 2xx: see ",
    dir, "/timeline.txt\n") end
end
-- Without a fault the store must match the server's 200s one for one, and
-- what wrk did not read is at most one request per connection.
local exact = fault or (n_stored == served and unread <= conns)
print(("acked=%d stored=%d missing=%d unread=%d phantom=%d served=%d exact=%s shape=%s"):format(
  n_acked, n_stored, missing, unread, phantom, served, exact and "yes" or "NO", shape))
if missing > 0 or phantom > 0 or not exact or shape:find("^BAD") then os.exit(1) end
LUA
}

field() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"; }

failed=""
echo "== serve: wrk -t$threads -c$conns, POST /webhooks/postmark (one new recipient per request)," \
  "bounce serve with 2 workers; ${secs}s per run; fault run $((2 * secs))s, Redis killed (SIGKILL)" \
  "at $(awk -v s="$secs" 'BEGIN { printf "%.1f", 2 * s / 3 }')s and started again ${outage}s later"

# 1. shdict
start_serve shdict shdict
run_wrk shdict "$secs" s
stored_shdict shdict
check shdict "$tmp/serve-shdict/logs/access.log" || failed="$failed shdict"
kill -TERM "$pid"
for _ in $(seq 100); do [ -f "$tmp/serve-shdict/logs/nginx.pid" ] || break; sleep 0.1; done

# 2. redis, no persistence; 3. the same bounce serve, Redis with an
# fsync'd append-only file, killed and restarted during the run.
rport=$(free_port)
start_redis "$tmp/redis-plain" "$rport" --save '' --appendonly no
start_serve redis "redis://127.0.0.1:$rport"
run_wrk redis "$secs" r
stored_redis redis "$rport"
check redis "$tmp/serve-redis/logs/access.log" || failed="$failed redis"

redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
aof=(--save '' --appendonly yes --appendfsync always)
start_redis "$tmp/redis-aof" "$rport" "${aof[@]}"
before=$(wc -l <"$tmp/serve-redis/logs/access.log")
fsecs=$((2 * secs))
(
  sleep "$(awk -v s="$fsecs" 'BEGIN { print s / 3 }')"
  kill -KILL "$(cat "$tmp/redis-aof/redis.pid")"
  sleep "$outage"
  start_redis "$tmp/redis-aof" "$rport" "${aof[@]}"
) &
killer=$!
run_wrk fault "$fsecs" f
wait "$killer" || failed="$failed restart"
stored_redis fault "$rport"
tail -n +"$((before + 1))" "$tmp/serve-redis/logs/access.log" >"$tmp/fault/access.log"
check fault "$tmp/fault/access.log" fault || failed="$failed fault"

echo
printf '%-27s %7s %7s %7s %6s %6s %7s %7s %7s %6s %s\n' "store" "req/s" "p99 ms" "2xx" "503" "other" \
  "served" "stored" "missing" "unread" "answers"
row() {  # label name
  local r="$tmp/$2/result" c="$tmp/$2/check"
  printf '%-27s %7s %7s %7s %6s %6s %7s %7s %7s %6s %s\n' "$1" "$(field rps "$r")" "$(field p99_ms "$r")" \
    "$(field ok "$r")" "$(field s503 "$r")" "$(( $(field other "$r") + $(field socket_errors "$r") ))" \
    "$(field served "$c")" "$(field stored "$c")" "$(field missing "$c")" "$(field unread "$c")" \
    "$(field shape "$c")"
}
row "shdict" shdict
row "redis" redis
row "redis aof, kill -9 mid-run" fault
cat <<EOF
req/s counts every answer (the fault run's fast 503s too); 2xx and 503 are what wrk read; other:
any other status or socket error; served: 200s in nginx's access log; stored: records in the
store (GET /suppressions, redis-cli --scan); missing: recipients answered 2xx but not stored
(must be 0); unread: stored without a 2xx read by wrk (in flight when wrk stopped, at most one
per connection, or written by Redis just before it died and answered 503). Without a fault,
stored = served exactly. answers: per wrk thread, the runs of 2xx and 503 in arrival order.
EOF
if [ -n "$failed" ]; then echo "serve_wrk: FAILED:$failed"; exit 1; fi
