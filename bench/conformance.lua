-- Scores the classifier on the shared corpus of reply lines:
--   lua5.4 bench/conformance.lua [CORPUS_DIR]
-- Writes predictions to build/replies.predictions.jsonl and runs the corpus'
-- own scorer (score_replies.py) on them.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath

local bounce = require("bounce")
local cjson = require("cjson")

local dir = arg[1] or os.getenv("CORPUS") or "../shared/corpus"
local src = assert(io.open(dir .. "/replies.jsonl", "r"))
local out_path = "build/replies.predictions.jsonl"
local out = assert(io.open(out_path, "w"))
local n = 0
for line in src:lines() do
  if line:match("%S") then
    local rec = cjson.decode(line)
    local r, err = bounce.classify(rec.text)
    local pred
    if r then
      pred = { reason = r.reason, type = r.type, hard = r.type == "hard", rule = r.rule }
    else
      pred = { reason = "undefined", type = "soft", hard = false, error = err }
    end
    out:write(cjson.encode(pred), "\n")
    n = n + 1
  end
end
src:close()
out:close()
io.write("replies: ", n, " lines classified (", out_path, ")\n")
io.stdout:flush()
local ok = os.execute("python3 " .. dir .. "/score_replies.py " .. dir .. "/replies.jsonl " .. out_path)
if ok ~= true and ok ~= 0 then os.exit(1) end
