-- Agreement of bounce.parse with the MTA zoo (make zoo): bounces that the
-- real MTAs of Debian wrote against scripted servers, whose truth is known
-- by construction (tools/mta-zoo, spec/fixtures/mta-zoo/README.md):
--   lua5.4 bench/zoo.lua [-v] [--no-sisimai] [--mta NAME] [DIR]
-- For every labelled file it compares bounce's records with the labels:
--   rcpts    the file's failed and delayed recipients, exactly (a file)
--   delayed  delayed vs failed, per expected recipient
--   reason   the reason; for a message the queue gave up on, `expired` or
--            the label's cause (what the last refusal meant) both agree
--   hard     hard vs not hard (the one that goes with the reason matched)
--   status   the enhanced status, where the label states one
--   knowable the reason again, on the records whose report states what
--            happened (label `in_report`: it quotes the scripted reply, or
--            words what the MTA found itself): some notices say nothing
--            (sendmail's and OpenSMTPD's delay warnings, OpenSMTPD's
--            expiry), and no reader can know from them what the server said
-- A recipient bounce does not report disagrees on all of them. Then the same
-- for Sisimai 4.25 (Debian's libsisimai-perl, bench/sisimai_robustness.pl),
-- whose `hard` is softbounce 0. Prints figures per MTA, per kind of report
-- (failed, expired, delayed) and overall; exits 0 (not a gate), non-zero
-- only when the fixtures cannot be read.
--   -v            each disagreement: file, recipient, expected, got
--   --no-sisimai  bounce only
--   --mta NAME    only that MTA's files
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath

local bounce = require("bounce")
local cjson = require("cjson")

local verbose, with_sisimai, only_mta, dir = false, true, nil, nil
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "-v" then verbose = true
    elseif a == "--no-sisimai" then with_sisimai = false
    elseif a == "--mta" then i = i + 1; only_mta = arg[i]
    elseif a:sub(1, 1) == "-" then
      io.stderr:write("usage: lua5.4 bench/zoo.lua [-v] [--no-sisimai] [--mta NAME] [DIR]\n")
      os.exit(2)
    else dir = a end
    i = i + 1
  end
end
dir = dir or "spec/fixtures/mta-zoo"

local function die(msg)
  io.stderr:write("zoo: ", msg, "\n")
  os.exit(2)
end

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
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

local labels = read_jsonl(dir .. "/labels.jsonl") or die("cannot read " .. dir .. "/labels.jsonl")
if only_mta then
  local kept = {}
  for _, l in ipairs(labels) do
    if l.mta == only_mta then kept[#kept + 1] = l end
  end
  labels = kept
end
if #labels == 0 then die("no labelled files in " .. dir) end

-- Records as compared: rcpt in lower case; a JSON null is absent. Records
-- of deliveries are left out (a report may list them; the labels are about
-- failures and delays).
local NOT_FAILURES = { delivered = true, relayed = true, expanded = true }
local function str(s) return type(s) == "string" and s or "" end

local function norm(r)
  return { rcpt = str(r.rcpt):lower(), delayed = r.delayed == true, reason = str(r.reason),
           hard = r.type == "hard", status = str(r.status), rule = str(r.rule),
           action = str(r.action) }
end

local function bounce_records(path)
  local data = read_file(path)
  if not data then die("cannot read " .. path) end
  local results, err = bounce.parse(data)
  local out = {}
  for _, r in ipairs(results or {}) do
    if not NOT_FAILURES[str(r.action)] then out[#out + 1] = norm(r) end
  end
  return out, err
end

local function sisimai_records()
  local p = io.popen("mktemp -d 2>/dev/null")
  local tmp = p and p:read("*l")
  if p then p:close() end
  if not tmp or tmp == "" then return nil, "mktemp -d failed" end
  local list = assert(io.open(tmp .. "/list", "w"))
  for _, l in ipairs(labels) do list:write(dir, "/", l.file, "\n") end
  list:close()
  io.stdout:flush()
  local ok = os.execute("perl bench/sisimai_robustness.pl " .. shq(tmp .. "/list") .. " > " ..
                        shq(tmp .. "/out.jsonl") .. " 2>" .. shq(tmp .. "/err"))
  local got = {}
  if ok == true or ok == 0 then
    for _, r in ipairs(read_jsonl(tmp .. "/out.jsonl") or {}) do
      local recs = {}
      for _, x in ipairs(r.records) do
        if not NOT_FAILURES[str(x.action)] then recs[#recs + 1] = norm(x) end
      end
      got[r.path] = recs
    end
  end
  os.execute("rm -rf " .. shq(tmp))
  if not (ok == true or ok == 0) then return nil, "bench/sisimai_robustness.pl failed" end
  return got
end

-- One tally per group (an MTA, a kind of report, all): agreeing / counted.
local function tally()
  return { files = 0, rcpts = 0, records = 0, delayed = 0, reason = 0, hard = 0,
           status = 0, status_n = 0, by_cause = 0, known = 0, known_n = 0, has = 0, has_n = 0 }
end

local function pct(n, d)
  if d == 0 then return "    -" end
  return ("%5.1f"):format(100 * n / d)
end

local function score(name, getter, reasons)
  local groups, order = {}, {}
  local function group(key)
    if not groups[key] then groups[key] = tally(); order[#order + 1] = key end
    return groups[key]
  end
  local misses = {}
  for _, l in ipairs(labels) do
    local path = dir .. "/" .. l.file
    local got, err = getter(path)
    local by_rcpt, seen = {}, {}
    for _, r in ipairs(got) do
      if not by_rcpt[r.rcpt] then by_rcpt[r.rcpt] = r end
    end
    local gs = { group("mta " .. l.mta), group("kind " .. l.kind), group("all") }
    -- the recipients, exactly
    local same = #got == #l.expect
    for _, e in ipairs(l.expect) do
      local rcpt = e.rcpt:lower()
      if not by_rcpt[rcpt] or seen[rcpt] then same = false end
      seen[rcpt] = true
    end
    for _, g in ipairs(gs) do
      g.files = g.files + 1
      if same then g.rcpts = g.rcpts + 1 end
    end
    if not same then
      local want, have = {}, {}
      for _, e in ipairs(l.expect) do want[#want + 1] = e.rcpt:lower() end
      for _, r in ipairs(got) do have[#have + 1] = r.rcpt end
      misses[#misses + 1] = ("%s: recipients: expected {%s}, got {%s}%s"):format(
        l.file, table.concat(want, " "), table.concat(have, " "), err and (" (" .. err .. ")") or "")
    end
    for _, e in ipairs(l.expect) do
      local r = by_rcpt[e.rcpt:lower()]
      local ok_delayed = r ~= nil and r.delayed == (e.delayed == true)
      local ok_reason, hard = false, e.hard
      if r and r.reason == e.reason then
        ok_reason = true
      elseif r and e.cause and r.reason == e.cause then
        ok_reason, hard = true, e.cause_hard
      end
      local ok_hard = r ~= nil and r.hard == hard
      local has_status = e.status ~= nil and e.status ~= ""
      local ok_status = has_status and r ~= nil and r.status == e.status
      local knowable = e.in_report ~= false
      for _, g in ipairs(gs) do
        g.records = g.records + 1
        if ok_delayed then g.delayed = g.delayed + 1 end
        if ok_reason then g.reason = g.reason + 1 end
        if ok_reason and r.reason ~= e.reason then g.by_cause = g.by_cause + 1 end
        if ok_hard then g.hard = g.hard + 1 end
        if has_status then g.status_n = g.status_n + 1 end
        if ok_status then g.status = g.status + 1 end
        if knowable then g.known_n = g.known_n + 1 end
        if knowable and ok_reason then g.known = g.known + 1 end
        if reasons and (reasons[e.reason] or (e.cause and reasons[e.cause])) then
          g.has_n = g.has_n + 1
          if ok_reason then g.has = g.has + 1 end
        end
      end
      if r and not (ok_delayed and ok_reason and ok_hard) then
        misses[#misses + 1] = ("%s: %s: expected %s%s %s%s, got %s %s%s%s"):format(
          l.file, e.rcpt, e.reason, e.cause and ("|" .. e.cause) or "",
          e.hard and "hard" or "not-hard", e.delayed and " delayed" or "",
          r.reason, r.hard and "hard" or "not-hard", r.delayed and " delayed" or "",
          r.rule ~= "" and (" (rule " .. r.rule .. ")") or "")
      end
    end
  end

  print(("\n%s on %d files of the MTA zoo (%s)"):format(name, #labels, dir))
  print(("  %-18s %5s %6s | %6s %7s %6s %5s %6s %8s"):format(
    "", "files", "rcpts", "exact%", "delayed", "reason", "hard", "status", "knowable"))
  table.sort(order, function(a, b)
    local ka, kb = a == "all" and "z" or a, b == "all" and "z" or b
    return ka < kb
  end)
  for _, key in ipairs(order) do
    local g = groups[key]
    print(("  %-18s %5d %6d | %6s %7s %6s %5s %6s %8s"):format(
      key, g.files, g.records, pct(g.rcpts, g.files), pct(g.delayed, g.records),
      pct(g.reason, g.records), pct(g.hard, g.records), pct(g.status, g.status_n),
      pct(g.known, g.known_n)))
  end
  local all = groups.all
  print(("  (rcpts: files; the rest: expected records. reason: %d of the %d agreeing records are"
         .. " expiries read as their cause; status on the %d records that state one; knowable on"
         .. " the %d whose report states what happened)"):format(all.by_cause, all.reason, all.status_n,
                                                              all.known_n))
  if reasons then
    print(("  (reason on the %d records whose reason it has: %s%%)"):format(all.has_n,
          pct(all.has, all.has_n):gsub("^ +", "")))
  end
  if verbose then
    print(("  %d disagreements:"):format(#misses))
    for _, m in ipairs(misses) do print("    " .. m) end
  end
end

local t0 = os.clock()
score("bounce " .. bounce._VERSION, bounce_records)
io.write(("  (%.2f s of CPU)\n"):format(os.clock() - t0))

if with_sisimai then
  local got, err = sisimai_records()
  if not got then
    print("\nSisimai: not measured: " .. err .. " (is libsisimai-perl installed?)")
  else
    local p = io.popen("perl -MSisimai -e 'print $Sisimai::VERSION' 2>/dev/null")
    local v = p and p:read("*a") or "?"
    if p then p:close() end
    -- the reasons it knows: 4.25 predates authfailure, badreputation,
    -- requireptr, notcompliantrfc, speeding and others
    local reasons = {}
    p = io.popen("perl -MSisimai::Reason -e 'print join(q( ), map {lc} @{Sisimai::Reason->index})' 2>/dev/null")
    for r in ((p and p:read("*a")) or ""):gmatch("%S+") do reasons[r] = true end
    if p then p:close() end
    score("Sisimai " .. v, function(path) return got[path] or {} end, next(reasons) and reasons)
  end
end
