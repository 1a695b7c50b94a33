-- Throughput of bounce.classify over the lines of a file, from Lua:
--   lua5.4 bench/classify.lua FILE [RUNS] [SECONDS_PER_RUN]
--   luajit bench/classify.lua FILE ...     (loads build/luajit/bounce/core.so)
-- Prints the median replies/s of RUNS runs.
local clock = os.clock
local build = jit and "./build/luajit/?.so;"
  or (_VERSION == "Lua 5.4" and "./build/?.so;")
  or ("./build/lua" .. _VERSION:match("%d+%.%d+") .. "/?.so;")
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = build .. package.cpath

local bounce = require("bounce")
local classify = bounce.classify

local file, runs, secs = arg[1], tonumber(arg[2] or 5), tonumber(arg[3] or 0.5)
assert(file, "usage: classify.lua FILE [RUNS] [SECONDS_PER_RUN]")
local lines = {}
for l in io.lines(file) do
  if l:match("%S") then lines[#lines + 1] = l end
end
local n = #lines

-- One timed run (CPU time of this process): passes over all lines until
-- secs elapsed; replies/s.
local function run(seconds)
  local done, sink = 0, 0
  local t0 = clock()
  local t
  repeat
    for i = 1, n do
      local r = classify(lines[i])
      if r and r.type == "hard" then sink = sink + 1 end
    end
    done = done + n
    t = clock() - t0
  until t >= seconds
  return done / t, sink
end

run(0.2)  -- warm-up (and JIT traces)
local rates = {}
for k = 1, runs do rates[k] = run(secs) end
table.sort(rates)
io.write(("%s %.0f replies/s (median of %d, %d lines)\n"):format(
  jit and jit.version or _VERSION, rates[math.floor(runs / 2) + 1], runs, n))
