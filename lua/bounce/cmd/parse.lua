-- bounce parse: bounce messages from files, mboxes and maildirs, one line
-- per recipient result (JSON, or CSV), ready for `bounce replay`.

local bounce = require("bounce")
local json = require("bounce.json")
local csv = require("bounce.csv")

local io, os, ipairs, pcall, require, type, floor =
  io, os, ipairs, pcall, require, type, math.floor
local format, find = string.format, string.find

local _M = { _VERSION = bounce._VERSION }

_M.help = [[
usage: bounce parse [--csv] [--header NAME]... [--campaign NAME] [--verp PREFIX] [PATH...]

Parses bounce messages (DSNs, complaints, auto-replies, plain-text bounces)
and prints one JSON object per recipient result: every field bounce.parse
gives (rcpt, action, status, code, text, reason, type, permanent, rhost,
command, reporting_mta, at, the original message's message_id, from, to,
subject, date, format, ...), where the message was (file, index, offset), and
sender (the address in the original From). The output pipes straight into
`bounce replay`:  bounce parse bounces.mbox | bounce replay --policy FILE

PATH is a single message, an mbox (its first line starts with "From "), a
maildir (a directory with cur/ and new/) or a folder of such files (any
other directory: its own files, by name); "-" or no PATH reads stdin. Files
are streamed: memory stays flat on a mailbox of any size; a message over
64 MiB is reported and skipped.

  --csv            CSV instead of JSON lines: a header line, then one row
                   per result (RFC 4180: CRLF line ends, fields with a comma,
                   quote or line break quoted, quotes doubled)
  --header NAME    also extract this header of the original message (up to
                   16); JSON gives them in "headers", CSV one column each
  --campaign NAME  the original header that names the campaign (such as
                   X-Campaign-Id): its value becomes the "campaign" field,
                   which `bounce replay` counts health by
  --verp PREFIX    your return paths are VERP addresses with this local-part
                   prefix (bounces+ for bounces+ann=example.org@your.host):
                   "verp_rcpt" is the recipient the bounce's address names,
                   the one you sent to, which `bounce replay` then tracks
                   (the bounce may name another: a forward, or none)

A message that cannot be parsed (not a bounce, too long, unreadable) is
reported on stderr with where it was, and the run goes on; the exit status
is 0 when every message gave results, 1 when some did not, 2 on a usage
error. On a terminal, large inputs show a progress bar on stderr (bytes or
messages done, messages/s); BOUNCE_PROGRESS=1 forces it, =0 turns it off.]]

local CSV_FIELDS = {
  "file", "index", "offset", "rcpt", "original_rcpt", "verp_rcpt", "action", "delayed",
  "status", "code", "reason", "type", "permanent", "rule", "text", "diagnostic", "rhost",
  "command", "reporting_mta", "at", "arrival_date", "last_attempt_date", "will_retry_until",
  "message_id", "from", "to", "subject", "date", "sender", "campaign", "feedback_type",
  "source_ip", "format", "warnings",
}

local function die(msg)
  io.stderr:write("bounce parse: ", msg, "\n")
  return 2
end

local function parse_args(args)
  local o, i = { paths = {}, headers = {} }, 1
  while i <= #args do
    local a = args[i]
    if a == "--header" or a == "--campaign" then
      local v = args[i + 1]
      if not v or v == "" then return nil, a .. " needs a header name" end
      if a == "--campaign" then o.campaign = v end
      local seen = false
      for _, h in ipairs(o.headers) do seen = seen or h:lower() == v:lower() end
      if not seen then o.headers[#o.headers + 1] = v end
      i = i + 2
    elseif a == "--csv" then
      o.csv = true
      i = i + 1
    elseif a == "--verp" then
      local v = args[i + 1]
      if not v or bounce.verp.prefix_error(v) then
        return nil, "--verp needs the local-part prefix of your return paths, such as bounces+"
      end
      o.verp = v
      i = i + 2
    elseif a == "--help" or a == "-h" then
      return nil, nil, true
    elseif a ~= "-" and a:match("^%-") then
      return nil, "unknown option " .. a .. " (bounce parse --help)"
    else
      o.paths[#o.paths + 1] = a
      i = i + 1
    end
  end
  if #o.headers > 16 then return nil, "at most 16 headers (--header, --campaign)" end
  if #o.paths == 0 then o.paths[1] = "-" end
  return o
end

local function csv_row(values, n) return csv.row(values, n) .. "\r\n" end

-- The address in a From header ("News <news@example.com>" -> news@example.com).
local function address(from)
  if type(from) ~= "string" then return nil end
  local a = from:match("<%s*([^<>%s]+@[^<>%s]+)%s*>") or from:match("([^%s<>\"(),;:]+@[^%s<>\"(),;:]+)")
  return a
end

local function human(n)
  if n >= 1e9 then return format("%.1f GB", n / 1e9) end
  if n >= 1e6 then return format("%.1f MB", n / 1e6) end
  return format("%.0f kB", n / 1e3)
end

-- The progress bar: nil (off), or an object with :update(where) and :done().
local function progress_bar()
  local env = os.getenv("BOUNCE_PROGRESS")
  local forced = env == "1"
  if env == "0" then return nil end
  if not forced then
    local ok = os.execute("test -t 2")
    if ok ~= true and ok ~= 0 then return nil end
  end
  local okso, socket = pcall(require, "socket")
  local now = okso and type(socket) == "table" and socket.gettime or os.clock
  local t0, last, n, shown = now(), -1, 0, false
  local bar = {}
  local function draw(where, final)
    local frac, what
    if where.count then
      local k = where.file_index or where.index
      frac = k / where.count
      what = format("%d/%d %s", k, where.count, where.file_index and "files" or "messages")
    elseif where.total and where.total > 0 then
      frac = (where.offset + (where.size or 0)) / where.total
      what = format("%s/%s", human(where.offset + (where.size or 0)), human(where.total))
    else
      what = format("%d messages", n)
    end
    if final then frac = frac and 1 end
    local t = now() - t0
    local rate = t > 0 and n / t or 0
    local cells = 30
    local done = frac and floor(frac * cells + 0.5) or 0
    io.stderr:write(format("\r[%s%s] %s  %s  %.0f msg/s  %s\027[K",
      ("#"):rep(done), ("."):rep(cells - done), frac and format("%3.0f%%", 100 * frac) or " ?%",
      what, rate, where.source or where.file or ""))
    shown = true
  end
  function bar.update(_, where)
    n = n + 1
    if not forced and not shown and not ((where.total or 0) >= 8e6 or (where.count or 0) >= 2000) then
      return
    end
    local t = now()
    if t - last >= 0.2 then
      last = t
      draw(where)
    end
    bar.last = where
  end
  function bar.done()
    if shown and bar.last then
      draw(bar.last, true)
      io.stderr:write("\n")
    end
  end
  return bar
end

local function location(where)
  if where.format == "mbox" then
    return format("%s: message %d at byte %d", where.file, where.index, where.offset)
  end
  return where.file
end

-- syntax: status = parse.run(args)
function _M.run(args)
  local o, err, help = parse_args(args or {})
  if help then io.write(_M.help, "\n") return 0 end
  if not o then return die(err) end
  local popts = (#o.headers > 0 or o.verp) and { headers = o.headers, verp = o.verp } or nil
  local bar = progress_bar()
  local failed, messages, results = 0, 0, 0
  if o.csv then
    local head = {}
    for k, f in ipairs(CSV_FIELDS) do head[k] = f end
    for _, h in ipairs(o.headers) do head[#head + 1] = h end
    io.write(csv_row(head, #head))
  end
  local function emit(r, where)
    r.file, r.index, r.offset = where.file, where.index, where.offset
    r.sender = address(r.from)
    if o.campaign and r.headers then r.campaign = r.headers[o.campaign] end
    if o.csv then
      local row = {}
      for k, f in ipairs(CSV_FIELDS) do row[k] = r[f] end
      local n = #CSV_FIELDS
      for k, h in ipairs(o.headers) do row[n + k] = r.headers and r.headers[h] end
      io.write(csv_row(row, n + #o.headers))
    else
      io.write(json.encode(r), "\n")
    end
  end
  for _, path in ipairs(o.paths) do
    local it, ierr
    if path == "-" then
      it, ierr = bounce.messages(io.stdin, { name = "stdin" })
    else
      it, ierr = bounce.messages(path)
    end
    if not it then
      io.stderr:write("bounce parse: ", ierr, "\n")
      failed = failed + 1
    else
      for msg, where in it do
        messages = messages + 1
        local list, perr
        if msg then list, perr = bounce.parse(msg, popts) else perr = where.error end
        if bar then bar:update(where) end
        if list then
          for _, r in ipairs(list) do emit(r, where) end
          results = results + #list
        else
          failed = failed + 1
          local loc = location(where)
          if find(perr, loc, 1, true) == 1 then loc = nil end
          io.stderr:write("bounce parse: ", loc and (loc .. ": ") or "", perr, "\n")
        end
      end
    end
  end
  if bar then bar:done() end
  if failed > 0 then
    io.stderr:write(format("bounce parse: %d messages read, %d results, %d failures\n",
                           messages, results, failed))
  end
  return failed > 0 and 1 or 0
end

return _M
