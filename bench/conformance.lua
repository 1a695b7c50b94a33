-- Scores the classifier and the message parser on the shared corpus:
--   lua5.4 bench/conformance.lua [CORPUS_DIR]
-- 1. Replies: classifies every line of replies.jsonl, writes
--    build/replies.predictions.jsonl and runs the corpus' score_replies.py.
-- 2. Messages: parses every file named in labels.jsonl with bounce.parse,
--    writes one line per result to build/messages.predictions.jsonl (file,
--    status, reply, reason, hard, format) and runs the corpus' score.py.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath

local bounce = require("bounce")
local cjson = require("cjson")

local dir = arg[1] or os.getenv("CORPUS") or "../shared/corpus"

-- One JSON object with its keys in a fixed order (cjson follows the table's
-- order, which changes from run to run): prediction files diff cleanly.
local ORDER = { "file", "status", "reply", "reason", "type", "hard", "rule", "format", "error" }
local function encode(t)
  local parts = {}
  for _, k in ipairs(ORDER) do
    if t[k] ~= nil then parts[#parts + 1] = cjson.encode(k) .. ":" .. cjson.encode(t[k]) end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
local failed = false

local function run(cmd)
  io.stdout:flush()
  local ok = os.execute(cmd)
  if ok ~= true and ok ~= 0 then failed = true end
end

-- 1. replies
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
    out:write(encode(pred), "\n")
    n = n + 1
  end
end
src:close()
out:close()
io.write("replies: ", n, " lines classified (", out_path, ")\n")
run("python3 " .. dir .. "/score_replies.py " .. dir .. "/replies.jsonl " .. out_path)

-- 2. messages
local labels = assert(io.open(dir .. "/labels.jsonl", "r"))
local mout_path = "build/messages.predictions.jsonl"
local mout = assert(io.open(mout_path, "w"))
local files, records, errors = 0, 0, 0
for line in labels:lines() do
  if line:match("%S") then
    local file = cjson.decode(line).file
    files = files + 1
    -- through bounce.messages, as a user reads a mailbox: a file that is an
    -- mbox (a "From " line first) holds more than one bounce
    local all, err = {}, nil
    for msg in assert(bounce.messages(dir .. "/" .. file)) do
      local results, perr = bounce.parse(assert(msg))
      if results then
        for _, r in ipairs(results) do all[#all + 1] = r end
      else
        err = err or perr
      end
    end
    if #all == 0 then
      errors = errors + 1
      mout:write(encode({ file = file, status = "", reply = "", reason = "undefined",
                                hard = false, error = err }), "\n")
    else
      for _, r in ipairs(all) do
        records = records + 1
        local hard = r.type == "hard"
        -- a bounce that states no status is scored with its pseudo status
        -- (X.0.9NN), the convention the labels follow
        mout:write(encode({ file = file, status = r.status or r.pseudo_status or "",
                                  reply = r.code and tostring(r.code) or "", reason = r.reason,
                                  hard = hard, format = r.format }), "\n")
      end
    end
  end
end
labels:close()
mout:close()
io.write("\nmessages: ", files, " files parsed, ", records, " records, ", errors,
         " without a result (", mout_path, ")\n")
run("python3 " .. dir .. "/score.py " .. dir .. "/labels.jsonl " .. mout_path)
if failed then os.exit(1) end
