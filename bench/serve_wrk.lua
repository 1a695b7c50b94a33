-- bench/serve_wrk.lua: the wrk script of bench/serve_wrk.sh (not a plain
-- Lua benchmark: it runs inside wrk's LuaJIT, one Lua state per thread).
--
--   wrk -t2 -c32 -d5s -s bench/serve_wrk.lua http://127.0.0.1:PORT -- OUTDIR TAG TOKEN
--
-- Every request POSTs a Postmark hard bounce to /webhooks/postmark for a
-- recipient of its own, TAG-THREAD-N@load.example, so each acknowledged
-- request makes exactly one new suppressed record. response() keeps, per
-- thread, the recipients answered 2xx (read from the answer's decisions,
-- so no bookkeeping of which request a response belongs to is needed) and
-- the sequence of status classes in the order the answers came. done()
-- writes OUTDIR/acked.txt (one recipient a line), OUTDIR/timeline.txt (per
-- thread: "THREAD STATUS COUNT ..." runs) and OUTDIR/sent.txt ("THREAD N":
-- recipients 1..N of that thread were sent), and prints one RESULT line.
-- The lists stay in memory until done(): no file I/O inside the timed loop.
-- luacheck: globals wrk setup init request response done
-- luacheck: globals id outdir tag n ok_n s503 other acked runs path headers template

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("id", #threads)
end

-- A Postmark "Bounce" webhook as Postmark sends it (fields of
-- spec/fixtures/webhooks/postmark_bounce.json); %s is the recipient.
local TEMPLATE = [[{"RecordType":"Bounce","MessageStream":"outbound","ID":4323372036854775807,]]
  .. [["Type":"HardBounce","TypeCode":1,"Name":"Hard bounce","Tag":"load",]]
  .. [["MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","ServerID":23,]]
  .. [["Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).",]]
  .. [["Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist.",]]
  .. [["Email":"%s","From":"news@sender.example","BouncedAt":"%s","DumpAvailable":false,]]
  .. [["Inactive":true,"CanActivate":true,"Subject":"Welcome aboard"}]]

function init(args)
  outdir, tag = args[1] or ".", args[2] or "run"
  n, ok_n, s503, other = 0, 0, 0, 0
  acked, runs = {}, {}
  path = "/webhooks/postmark"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (args[3] or "") }
  template = TEMPLATE:format("%s", os.date("!%Y-%m-%dT%H:%M:%SZ"))
end

function request()
  n = n + 1
  return wrk.format("POST", path, headers, template:format(tag .. "-" .. id .. "-" .. n .. "@load.example"))
end

-- Appends one answer of class c ("2xx", "503", or the status) to the runs.
local function note(c)
  local last = #runs
  if last > 0 and runs[last - 1] == c then
    runs[last] = runs[last] + 1
  else
    runs[last + 1], runs[last + 2] = c, 1
  end
end

function response(status, _, body)
  if status >= 200 and status < 300 then
    ok_n = ok_n + 1
    acked[#acked + 1] = body:match('"rcpt":"([^"]+)"') or "?"
    note("2xx")
  elseif status == 503 then
    s503 = s503 + 1
    note("503")
  else
    other = other + 1
    note(tostring(status))
  end
end

function done(summary, latency)
  local dir = threads[1]:get("outdir")
  local fa = assert(io.open(dir .. "/acked.txt", "w"))
  local ft = assert(io.open(dir .. "/timeline.txt", "w"))
  local fs = assert(io.open(dir .. "/sent.txt", "w"))
  local ok, r503, oth = 0, 0, 0
  for i, t in ipairs(threads) do
    ok, r503, oth = ok + t:get("ok_n"), r503 + t:get("s503"), oth + t:get("other")
    for _, rcpt in ipairs(t:get("acked")) do fa:write(rcpt, "\n") end
    ft:write(i, " ", table.concat(t:get("runs"), " "), "\n")
    fs:write(i, " ", t:get("n"), "\n")
  end
  fa:close()
  ft:close()
  fs:close()
  local e = summary.errors
  local secs = summary.duration / 1e6
  print(string.format("RESULT requests=%d ok=%d s503=%d other=%d socket_errors=%d timeouts=%d seconds=%.2f"
    .. " rps=%.0f ok_rps=%.0f p50_ms=%.2f p99_ms=%.2f",
    summary.requests, ok, r503, oth, e.connect + e.read + e.write, e.timeout, secs,
    summary.requests / secs, ok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
