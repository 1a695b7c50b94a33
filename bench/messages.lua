-- Throughput of bounce.parse over the corpus' bounce messages, from Lua:
--   lua5.4 bench/messages.lua [RUNS [SECONDS_PER_RUN [CORPUS_DIR]]]
--   luajit bench/messages.lua ...        (loads build/luajit/bounce/core.so)
-- The messages are the files named in CORPUS_DIR/labels.jsonl (default: the
-- CORPUS variable, else ../shared/corpus, as bench/conformance.lua finds it),
-- read into memory first: the figure is parsing, not file reading. Prints the
-- median messages/s of RUNS runs (CPU time, like the other benches).
local jit = rawget(_G, "jit")
local clock = os.clock
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = (jit and "./build/luajit/?.so;" or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")) .. package.cpath

local bounce = require("bounce")
local parse = bounce.parse

local runs = tonumber(arg[1]) or 5
local secs = tonumber(arg[2]) or 0.5
local dir = arg[3] or os.getenv("CORPUS") or "../shared/corpus"

local msgs = {}
local labels = io.open(dir .. "/labels.jsonl", "r")
if not labels then
  io.stderr:write("messages.lua: no ", dir, "/labels.jsonl (set CORPUS or pass the corpus dir)\n")
  os.exit(1)
end
for line in labels:lines() do
  local file = line:match('"file"%s*:%s*"([^"]+)"')
  if file then
    local f = assert(io.open(dir .. "/" .. file, "rb"))
    msgs[#msgs + 1] = f:read("*a")
    f:close()
  end
end
labels:close()
local n = #msgs
assert(n > 0, "no messages in " .. dir .. "/labels.jsonl")

-- One timed run: passes over all messages until `seconds` of CPU time
-- elapsed; messages/s, and the results of one pass.
local function run(seconds)
  local done, results = 0
  local t0 = clock()
  local t
  repeat
    results = 0
    for i = 1, n do
      local list = parse(msgs[i])
      if list then results = results + #list end
    end
    done = done + n
    t = clock() - t0
  until t >= seconds
  return done / t, results
end

run(0.2)  -- warm-up (and JIT traces)
local rates, results = {}, 0
for k = 1, runs do rates[k], results = run(secs) end
table.sort(rates)
io.write(("bounce.parse, %s %.0f messages/s (median of %d, %d messages, %d results)\n"):format(
  jit and jit.version or _VERSION, rates[math.floor(runs / 2) + 1], runs, n, results))
