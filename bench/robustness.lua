-- Metamorphic robustness of bounce.parse on the shared corpus (make robustness):
--   lua5.4 bench/robustness.lua [-v] [-o DIR] [--sisimai] [--only NAME,...] [CORPUS_DIR]
-- Every corpus message is rewritten in ways that keep its meaning (line
-- endings, folding, transfer encodings, nesting, an mbox, boundaries,
-- addresses, dates, transcripts, charsets, recipient order, one more
-- recipient: bench/robustness.py), and bounce.parse must give the same
-- records: rcpt, action, delayed, status, code, reason, type, and the date
-- `at`. Where a transformation changes one of them on purpose (addresses
-- renamed, a recipient added, dates moved, which `at` must follow), the
-- expectation follows it.
-- Prints, per transformation, how many files it applied to and how many gave
-- the same results; the last lines are the summary. Not a gate: exits 0 with
-- the figures, non-zero only when the suite itself fails (a transformation
-- that broke, python3 missing).
--   -v (or ROBUSTNESS_VERBOSE=1)   each failure: file, transformation, fields
--   -o DIR (or ROBUSTNESS_OUT=DIR) keep the transformed files in DIR/NAME/FILE,
--                                  for `bin/bounce parse DIR/NAME/FILE`
--   --sisimai (ROBUSTNESS_SISIMAI=1) the same measure for Sisimai (Perl),
--                                  against Sisimai's own results on the originals
--   --only a,b (ROBUSTNESS_ONLY)   only these transformations
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath

local bounce = require("bounce")
local cjson = require("cjson")

local FIELDS = { "rcpt", "action", "delayed", "status", "code", "reason", "type" }

local verbose = os.getenv("ROBUSTNESS_VERBOSE") and os.getenv("ROBUSTNESS_VERBOSE") ~= "" and
                os.getenv("ROBUSTNESS_VERBOSE") ~= "0"
local keep = os.getenv("ROBUSTNESS_OUT")
if keep == "" then keep = nil end
local sisimai = (os.getenv("ROBUSTNESS_SISIMAI") or "") ~= "" and os.getenv("ROBUSTNESS_SISIMAI") ~= "0"
local only = os.getenv("ROBUSTNESS_ONLY")
local dir
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "-v" then verbose = true
    elseif a == "-o" then i = i + 1; keep = arg[i]
    elseif a == "--sisimai" then sisimai = true
    elseif a == "--only" then i = i + 1; only = arg[i]
    elseif a:sub(1, 1) == "-" then
      io.stderr:write("usage: lua5.4 bench/robustness.lua [-v] [-o DIR] [--sisimai] [--only NAME,...] [CORPUS_DIR]\n")
      os.exit(2)
    else dir = a end
    i = i + 1
  end
end
dir = dir or os.getenv("CORPUS") or "../shared/corpus"

local function die(msg)
  io.stderr:write("robustness: ", msg, "\n")
  os.exit(2)
end

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(cmd)
  io.stdout:flush()
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local out
if keep then
  if not run("mkdir -p " .. shq(keep)) then die("cannot create " .. keep) end
  out = keep
else
  local p = io.popen("mktemp -d 2>/dev/null")
  out = p and p:read("*l")
  if p then p:close() end
  if not out or out == "" then die("mktemp -d failed") end
end
local function cleanup()
  if not keep then os.execute("rm -rf " .. shq(out)) end
end

-- Records as compared: strings, rcpt in lower case (domains are
-- case-insensitive, and no transformation changes a local part's case).
-- Numbers as integers (cjson decodes JSON numbers as floats).
-- JSON's null (cjson.null) and absent values are both "".
local function num(n) n = tonumber(n); return n and math.floor(n) end
local function str(s) return type(s) == "string" and s or "" end
local function norm(r)
  return {
    rcpt = str(r.rcpt):lower(), action = str(r.action), delayed = tostring(r.delayed == true),
    status = str(r.status), code = num(r.code) and ("%d"):format(num(r.code)) or "",
    reason = str(r.reason), type = str(r.type), at = num(r.at),
  }
end

-- All records of a file read as a user reads a mailbox: every message
-- through bounce.messages, then bounce.parse. Messages that are not bounces
-- (the ordinary mail of the mbox transformation) give none.
local function parse_file(path)
  local msgs, all = {}, {}
  local iter, err = bounce.messages(path)
  if not iter then return nil, err end
  for msg in iter do
    local recs = {}
    local results = msg and bounce.parse(msg)
    for _, r in ipairs(results or {}) do
      recs[#recs + 1] = norm(r)
      all[#all + 1] = recs[#recs]
    end
    msgs[#msgs + 1] = recs
  end
  return all, msgs
end

local function read_jsonl(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local list = {}
  for line in f:lines() do
    if line:match("%S") then list[#list + 1] = cjson.decode(line) end
  end
  f:close()
  return list
end

-- 1. the originals, and the recipients the transformer needs
local labels = read_jsonl(dir .. "/labels.jsonl") or die("cannot read " .. dir .. "/labels.jsonl")
local original = {}
do
  local f = assert(io.open(out .. "/originals.jsonl", "w"))
  for _, l in ipairs(labels) do
    local all, msgs = parse_file(dir .. "/" .. l.file)
    if not all then cleanup(); die(l.file .. ": " .. tostring(msgs)) end
    original[l.file] = all
    local ms = {}
    for i, recs in ipairs(msgs) do
      ms[i] = {}
      for j, r in ipairs(recs) do ms[i][j] = { rcpt = r.rcpt, action = r.action } end
    end
    -- an empty list is an array for the transformer
    f:write('{"file":', cjson.encode(l.file), ',"messages":',
            (#ms == 0 and "[]" or cjson.encode(ms):gsub("%{%}", "[]")), "}\n")
  end
  f:close()
end

-- 2. the transformations
if not run("command -v python3 >/dev/null 2>&1") then
  cleanup()
  die("python3 is needed to write the transformed files (apt-get install python3)")
end
local env = only and ("ROBUSTNESS_ONLY=" .. shq(only) .. " ") or ""
if not run(env .. "python3 bench/robustness.py " .. shq(dir) .. " " .. shq(out) .. " " ..
           shq(out .. "/originals.jsonl")) then
  cleanup()
  die("bench/robustness.py failed: the suite itself is broken (not a parser result)")
end
local manifest = read_jsonl(out .. "/manifest.jsonl") or die("no manifest")
local order = {}
for _, t in ipairs(read_jsonl(out .. "/transforms.jsonl") or {}) do order[#order + 1] = t.t end

-- 3. expectations and comparison
local function expected(base, e)
  local list = {}
  local map = e.rcpt_map or {}
  local keys = {}
  for k in pairs(map) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return #a > #b or (#a == #b and a < b) end)
  for _, r in ipairs(base) do
    local x = {}
    for k, v in pairs(r) do x[k] = v end
    if map[x.rcpt] then
      x.rcpt = map[x.rcpt]
    else
      for _, k in ipairs(keys) do
        local s = x.rcpt:find(k, 1, true)
        if s then x.rcpt = x.rcpt:sub(1, s - 1) .. map[k] .. x.rcpt:sub(s + #k); break end
      end
    end
    if e.at_shift and x.at then x.at = x.at + math.floor(e.at_shift) end
    list[#list + 1] = x
  end
  -- the added recipient's date is whatever the reader takes for it: not compared
  for _, a in ipairs(e.added or {}) do
    local x = norm(a)
    x.any_at = true
    list[#list + 1] = x
  end
  for _, c in ipairs(e.added_copy or {}) do
    for _, r in ipairs(base) do
      if r.rcpt == c.from:lower() then
        local x = {}
        for k, v in pairs(r) do x[k] = v end
        x.rcpt = c.rcpt:lower()
        list[#list + 1] = x
        break
      end
    end
  end
  return list
end

-- A record as one string: FIELDS, then `at` unless the expectation leaves
-- it open for that recipient (anyat[rcpt]).
local function key(r, anyat)
  local parts = {}
  for i, f in ipairs(FIELDS) do parts[i] = r[f] end
  parts[#parts + 1] = anyat[r.rcpt] and "*" or tostring(r.at)
  return table.concat(parts, "\t")
end

local function open_at(exp)
  local anyat = {}
  for _, r in ipairs(exp) do if r.any_at then anyat[r.rcpt] = true end end
  return anyat
end

local function same(exp, got)
  if #exp ~= #got then return false end
  local a, b, anyat = {}, {}, open_at(exp)
  for i, r in ipairs(exp) do a[i] = key(r, anyat) end
  for i, r in ipairs(got) do b[i] = key(r, anyat) end
  table.sort(a)
  table.sort(b)
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- What differs, recipient by recipient: "rcpt: field a -> b", "missing
-- rcpt", "extra rcpt (reason)".
local function diff(exp, got)
  local used, notes, anyat = {}, {}, open_at(exp)
  for _, x in ipairs(exp) do
    local fields = { table.unpack(FIELDS) }
    if not x.any_at then fields[#fields + 1] = "at" end
    local match
    for j, y in ipairs(got) do
      if not used[j] and y.rcpt == x.rcpt and key(x, anyat) == key(y, anyat) then match = j; break end
    end
    if not match then
      for j, y in ipairs(got) do
        if not used[j] and y.rcpt == x.rcpt then match = j; break end
      end
    end
    if not match and #exp == 1 and #got == 1 then match = 1 end
    if match then
      used[match] = true
      local d = {}
      for _, f in ipairs(fields) do
        if tostring(x[f]) ~= tostring(got[match][f]) then
          d[#d + 1] = f .. " " .. tostring(x[f]) .. " -> " .. tostring(got[match][f])
        end
      end
      if #d > 0 then notes[#notes + 1] = x.rcpt .. ": " .. table.concat(d, ", ") end
    else
      notes[#notes + 1] = "missing " .. x.rcpt .. " (" .. x.reason .. ")"
    end
  end
  for j, y in ipairs(got) do
    if not used[j] then notes[#notes + 1] = "extra " .. y.rcpt .. " (" .. y.reason .. ", " .. y.action .. ")" end
  end
  return table.concat(notes, "; ")
end

local function measure(results_of, base_of)
  local stats, failures = {}, {}
  for _, e in ipairs(manifest) do
    local s = stats[e.t] or { applied = 0, same = 0 }
    stats[e.t] = s
    s.applied = s.applied + 1
    local exp = expected(base_of(e.file), e)
    local got, err = results_of(e)
    if got and same(exp, got) then
      s.same = s.same + 1
    else
      failures[#failures + 1] = { e = e, why = got and diff(exp, got) or ("no result: " .. tostring(err)) }
    end
  end
  return stats, failures
end

local stats, failures = measure(function(e) return parse_file(out .. "/" .. e.out) end,
                                function(file) return original[file] end)

-- 4. Sisimai on the same files, against its own results on the originals
local sstats, sfailures
if sisimai then
  local list = assert(io.open(out .. "/sisimai.list", "w"))
  for _, l in ipairs(labels) do list:write(dir .. "/" .. l.file, "\n") end
  for _, e in ipairs(manifest) do list:write(out .. "/" .. e.out, "\n") end
  list:close()
  -- Sisimai warns on stderr about dates it cannot read: its own figures say what matters
  if not run("perl bench/sisimai_robustness.pl " .. shq(out .. "/sisimai.list") .. " > " ..
             shq(out .. "/sisimai.jsonl") .. " 2>" .. shq(out .. "/sisimai.stderr")) then
    cleanup()
    die("bench/sisimai_robustness.pl failed (is libsisimai-perl installed?)")
  end
  local by = {}
  for _, r in ipairs(read_jsonl(out .. "/sisimai.jsonl") or {}) do
    local recs = {}
    for i, x in ipairs(r.records) do recs[i] = norm(x) end
    by[r.path] = recs
  end
  sstats, sfailures = measure(function(e) return by[out .. "/" .. e.out] end,
                              function(file) return by[dir .. "/" .. file] or {} end)
end

-- 5. report: failures (with -v), the table, the summary last
if verbose then
  print("failures (file, transformation: what differs; reproduce with bin/bounce parse " ..
        (keep and (keep .. "/NAME/FILE") or "-o DIR, then DIR/NAME/FILE") .. "):")
  for _, f in ipairs(failures) do
    print(("  %s  %s: %s"):format(f.e.file:match("[^/]+$"), f.e.t, f.why))
  end
  print()
  if sfailures then
    print("Sisimai's failures (against its own results on the originals):")
    for _, f in ipairs(sfailures) do
      print(("  %s  %s: %s"):format(f.e.file:match("[^/]+$"), f.e.t, f.why))
    end
    print()
  end
end

local function pct(a, n) return n > 0 and ("%5.1f%%"):format(100 * a / n) or "    -" end
print(("robustness: %d corpus files (%s), %d transformed files"):format(#labels, dir, #manifest))
local head = ("%-18s %7s %9s %7s"):format("transformation", "applied", "invariant", "share")
if sstats then head = head .. ("   | %-8s %9s %7s"):format("Sisimai", "invariant", "share") end
print(head)
local total, total_same, stotal, stotal_same = 0, 0, 0, 0
local below = {}
for _, t in ipairs(order) do
  local s = stats[t]
  if s then
    local line = ("%-18s %7d %9d %7s"):format(t, s.applied, s.same, pct(s.same, s.applied))
    total, total_same = total + s.applied, total_same + s.same
    if s.same < s.applied then
      below[#below + 1] = ("%s %s (%d)"):format(t, pct(s.same, s.applied):gsub("^%s+", ""), s.applied - s.same)
    end
    if sstats then
      local ss = sstats[t] or { applied = 0, same = 0 }
      stotal, stotal_same = stotal + ss.applied, stotal_same + ss.same
      line = line .. ("   | %-8s %9d %7s"):format("", ss.same, pct(ss.same, ss.applied))
    end
    print(line)
  end
end
print()
local summary = ("overall: %d applied, %d invariant, %s"):format(total, total_same,
                                                                   pct(total_same, total):gsub("^%s+", ""))
if sstats then
  summary = summary .. ("  (Sisimai %s: %s)"):format(require("bounce")._VERSION and "4.25" or "",
                                                   pct(stotal_same, stotal):gsub("^%s+", ""))
end
print(summary)
if #below > 0 then
  local lines, cur = {}, "below 100% (failures):"
  for _, b in ipairs(below) do
    if #cur + #b + 2 > 100 then lines[#lines + 1] = cur; cur = " " end
    cur = cur .. " " .. b .. ","
  end
  lines[#lines + 1] = cur:gsub(",$", "")
  for _, l in ipairs(lines) do print(l) end
else
  print("every transformation: 100%")
end
if not verbose then print("failures: make robustness ROBUSTNESS_VERBOSE=1; files: ROBUSTNESS_OUT=DIR") end
cleanup()
