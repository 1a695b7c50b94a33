-- bounce verify: should mail go to these addresses at all? (bounce.verify
-- from the command line: one address, a list, or a CSV file in bulk.)

local cli = require("bounce.cli")
local csv = require("bounce.csv")
local json = require("bounce.json")
local state = require("bounce.state")
local verify = require("bounce.verify")

local io, os, ipairs, pairs, pcall, tonumber, tostring, type =
  io, os, ipairs, pairs, pcall, tonumber, tostring, type
local format, floor, concat = string.format, math.floor, table.concat

local _M = { _VERSION = verify._VERSION }

_M.help = [[
usage: bounce verify ADDR... [FILE] [--dns HOST:PORT] [--smtp] [--json|--csv] [--db FILE]

Says whether mail should go to each address, and why: valid, invalid,
risky or unknown. Checks the syntax (RFC 5321), the domain's mail servers
(MX, or the domain's own address; a null MX or a domain that does not
exist is invalid, a DNS failure unknown), the bounce history (a suppressed
address, or any address at a domain a hostunknown bounce marked dead, is
invalid), and with --smtp asks the mail server (EHLO, MAIL
FROM, RCPT TO, RSET, QUIT; never DATA) whether it takes the mailbox, and a
random one (a domain that takes any address is risky: catch-all).

Addresses come from the arguments, from FILE (a CSV file with a header:
the email/address/recipient column, or --column NAME; or one address per
line), or from stdin ("-", or nothing). Lookups run in parallel; a bulk
run shows a progress bar on a terminal (BOUNCE_PROGRESS=1 forces it, =0
turns it off).

  --dns HOST:PORT     the DNS server (default: the nameservers of
                      /etc/resolv.conf)
  --timeout SECONDS   per DNS try (default 2; 3 tries)
  --smtp              probe the mailboxes over SMTP. Probe only domains
                      you may probe: mail servers rate-limit and blocklist
                      probers. The prober identifies itself:
  --helo NAME         the name it gives in EHLO (default: this host's
                      name; use one that resolves to this host)
  --from ADDR         its MAIL FROM (default: postmaster@HELO)
  --smtp-port N       the MX hosts' port (default 25)
  --rate N            probes per domain per minute (default 10); an
                      address that would wait over a minute is unknown
  --db FILE           the bounce history (see replay, import): a
                      suppressed address, or one at a dead domain, is
                      invalid (history suppressed, dead_domain). Default:
                      $BOUNCE_DB (which must exist), else ./bounce.db when
                      it exists
  --policy FILE       the policy (retention decides when suppressions end)
  --disposable FILE   disposable domains, one per line (a list you keep):
                      their addresses are risky, disposable=true
  --roles FILE        role local parts (info, admin, ...), one per line:
                      risky, role=true
  --column NAME       the CSV column holding the addresses
  --concurrency N     addresses verified at once (default 32)
  --json              one JSON object per address
  --csv               CSV: the input's columns (for a CSV input), then
                      addr, verdict, why, syntax, domain, mx, history,
                      smtp, catch_all, disposable, role, smtp_reply

Exit status: 0 when no address is invalid, 1 when one is, 2 on an error.
]]

local VALUES = { dns = true, timeout = true, helo = true, from = true, ["smtp-port"] = true, rate = true,
                 db = true, policy = true, disposable = true, roles = true, column = true,
                 concurrency = true }
local FLAGS = { smtp = true, json = true, csv = true }

-- Column names that hold addresses, in order of preference.
local ADDRESS_COLUMNS = { "email", "e-mail", "email_address", "emailaddress", "address", "mail",
                          "recipient", "rcpt", "to" }

-- The result columns of --csv.
local OUT = { "addr", "verdict", "why", "syntax", "domain", "mx", "history", "smtp", "catch_all",
              "disposable", "role", "smtp_reply" }

local CHUNK = 1000   -- addresses read, verified in parallel and written at a time

local function die(msg)
  io.stderr:write("bounce verify: ", msg, "\n")
  return 2
end

local function number(o, key, lo, hi)
  local v = o[key]
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n < lo or n > hi then return nil, "--" .. key .. ": a number " .. lo .. ".." .. hi .. " expected" end
  return n
end

local function parse(args)
  local o, pos = cli.parse_args(args, VALUES)
  if not o then return nil, pos end
  for k, v in pairs(o) do
    if not VALUES[k] and not FLAGS[k] then return nil, "unknown option --" .. k end
    if FLAGS[k] and v ~= true then return nil, "--" .. k .. " takes no value" end
  end
  if o.json and o.csv then return nil, "--json and --csv: one or the other" end
  local err
  for key, range in pairs({ timeout = { 0.01, 60 }, ["smtp-port"] = { 1, 65535 }, rate = { 0.01, 6000 },
                            concurrency = { 1, 512 } }) do
    o[key], err = number(o, key, range[1], range[2])
    if err then return nil, err end
  end
  return o, pos
end

-- The inputs: addresses, files, stdin.
local function inputs(pos)
  local list = {}
  if #pos == 0 then pos = { "-" } end
  for _, p in ipairs(pos) do
    if p == "-" then
      list[#list + 1] = { file = io.stdin, name = "stdin" }
    elseif p:find("@", 1, true) then
      list[#list + 1] = { addr = p }
    else
      local f, err = io.open(p, "rb")
      if not f then return nil, err end
      list[#list + 1] = { file = f, name = p, path = p }
    end
  end
  return list
end

local function count_lines(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = 0
  for _ in f:lines() do n = n + 1 end
  f:close()
  return n
end

-- The progress bar on stderr: nil (off) or bar:update(done), bar:done().
local function progress_bar(total)
  local env = os.getenv("BOUNCE_PROGRESS")
  if env == "0" then return nil end
  if env ~= "1" then
    local ok = os.execute("test -t 2")
    if ok ~= true and ok ~= 0 then return nil end
  end
  local net = require("bounce.net")
  local t0, last, n, shown = net.now(), -1, 0, false
  local bar = {}
  local function draw(final)
    local t = net.now() - t0
    local rate = t > 0 and n / t or 0
    local frac = total and total > 0 and n / total or nil
    if final and frac then frac = 1 end
    local cells = 30
    local full = frac and floor(frac * cells + 0.5) or 0
    local eta = (frac and rate > 0 and not final) and format("  eta %ds", floor((total - n) / rate)) or ""
    io.stderr:write(format("\r[%s%s] %s  %d%s addresses  %.0f/s%s\027[K", ("#"):rep(full), ("."):rep(cells - full),
      frac and format("%3.0f%%", 100 * frac) or " ?%", n, total and ("/" .. total) or "", rate, eta))
    shown = true
  end
  function bar.update(_, done)
    n = done
    local t = net.now()
    if t - last >= 0.2 then
      last = t
      draw(false)
    end
  end
  function bar.done()
    if shown then
      draw(true)
      io.stderr:write("\n")
    end
  end
  return bar
end

local function cell(v)
  if type(v) == "table" then return concat(v, " ") end
  if type(v) == "boolean" then return tostring(v) end
  return v
end

-- The writer for the chosen format: write(result, row) and, for CSV, a
-- header when the first row is known.
local function writer(o)
  local header_done = false
  local out = {}
  function out.header(input_header)
    if not o.csv or header_done then return end
    header_done = true
    local names, seen = {}, {}
    for _, h in ipairs(input_header or {}) do
      names[#names + 1] = h
      seen[h] = true
    end
    out.width = #names
    for _, f in ipairs(OUT) do names[#names + 1] = seen[f] and (f .. "_verify") or f end
    io.write(csv.row(names, #names), "\r\n")
  end
  function out.write(r, row)
    if o.json then
      if r.mx then json.array(r.mx) end           -- [] when empty, not {}
      io.write(json.encode(r), "\n")
    elseif o.csv then
      local vals, n = {}, out.width or 0
      for i = 1, n do vals[i] = row and row[i] end
      for i, f in ipairs(OUT) do vals[n + i] = cell(r[f]) end
      io.write(csv.row(vals, n + #OUT), "\r\n")
    else
      io.write(format("%-40s %-8s %s\n", r.addr ~= "" and r.addr or r.input, r.verdict, r.why))
    end
  end
  return out
end

local function is_address_column(name)
  name = name:lower():gsub("^%s+", ""):gsub("%s+$", "")
  for rank, c in ipairs(ADDRESS_COLUMNS) do
    if name == c then return rank end
  end
  return nil
end

-- The column of fields that names the addresses: --column's, else the
-- best-known address column name; nil when fields is no header.
local function find_column(fields, want)
  local best, col
  for i, f in ipairs(fields) do
    if want then
      if f == want then return i end
    else
      local rank = is_address_column(f)
      if rank and (not best or rank < best) then best, col = rank, i end
    end
  end
  return col
end

-- Reads a file's rows in chunks: calls each(items) with up to CHUNK
-- { addr, row } items. A CSV with a header gives out.header its names;
-- one without gives column1..N (none for a plain list of addresses).
local function read_file(src, o, out, each)
  local it = csv.reader(src.file)
  local col, first, items = nil, true, {}
  local ok, err = pcall(function()
    for fields in it do
      local header = false
      if first then
        first = false
        col = find_column(fields, o.column)
        if o.column and not col then error(src.name .. ": no column '" .. o.column .. "' in its first line", 0) end
        if col then
          header = true
          out.header(fields)
        else
          local names = {}
          for i = 1, #fields > 1 and #fields or 0 do names[i] = "column" .. i end
          out.header(names)
          for i, f in ipairs(fields) do
            if f:find("@", 1, true) then col = i break end
          end
          col = col or 1
        end
      end
      if not header and (#fields > 1 or (fields[1] or ""):find("%S")) then
        items[#items + 1] = { addr = fields[col] or "", row = fields }
        if #items >= CHUNK then
          each(items)
          items = {}
        end
      end
    end
  end)
  if not ok then return nil, src.name .. ": " .. tostring(err) end
  if #items > 0 then each(items) end
  return true
end

-- The verifier and the options of every call: lists checked readable, the
-- history opened. Returns v, vopts or nil, err.
local function setup(o)
  local v, err = verify.new{ dns = o.dns, dns_timeout = o.timeout }
  if not v then return nil, err end
  local vopts = { smtp = o.smtp or nil, helo = o.helo, from = o.from, smtp_port = o["smtp-port"], rate = o.rate,
                  concurrency = o.concurrency, disposable = o.disposable, roles = o.roles }
  for _, k in ipairs({ "disposable", "roles" }) do
    if o[k] then
      local f, ferr = io.open(o[k], "r")
      if not f then return nil, "--" .. k .. ": " .. tostring(ferr) end
      f:close()
    end
  end
  local db = state.db_path(o)
  local f = db ~= ":memory:" and io.open(db, "rb")
  if f then f:close() end
  -- only the default ./bounce.db may be absent: a history named by --db or
  -- $BOUNCE_DB that is not there is a mistake, not a clean history
  local env = os.getenv("BOUNCE_DB")
  local named = o.db or (env and env ~= "")
  if named and not f and db ~= ":memory:" then
    return nil, (o.db and "--db " or "$BOUNCE_DB ") .. db .. ": no such file"
  end
  if f then
    local t, terr = state.tracker{ db = db, policy = o.policy }
    if not t then return nil, terr end
    vopts.tracker = t
  end
  if o.smtp and not o.helo then
    io.stderr:write("bounce verify: --smtp without --helo: the prober calls itself '", verify.default_helo(), "'\n")
  end
  return v, vopts
end

-- How many addresses the inputs hold (lines of files), nil for stdin.
local function count(srcs)
  local total = 0
  for _, s in ipairs(srcs) do
    if s.addr then total = total + 1
    elseif s.path then total = total + (count_lines(s.path) or 0)
    else return nil end
  end
  return total
end

-- syntax: status = verify.run(args)
function _M.run(args)
  local o, pos = parse(args or {})
  if not o then return die(pos) end
  local srcs, ierr = inputs(pos)
  if not srcs then return die(ierr) end
  local v, vopts = setup(o)
  if not v then return die(vopts) end
  local total = count(srcs)
  local bar = (total == nil or total > 1) and progress_bar(total) or nil
  local out = writer(o)
  local done, invalid = 0, 0
  local function each(items)
    local addrs = {}
    for i, it in ipairs(items) do addrs[i] = it.addr end
    local base = done
    local results = v:many(addrs, vopts, bar and function(k) bar:update(base + k) end or nil)
    for i, r in ipairs(results) do
      if r.verdict == "invalid" then invalid = invalid + 1 end
      out.write(r, items[i].row)
    end
    done = done + #items
    io.stdout:flush()
  end
  local loose = {}
  for _, s in ipairs(srcs) do
    if s.addr then
      loose[#loose + 1] = { addr = s.addr }
    else
      if #loose > 0 then out.header() each(loose) loose = {} end
      local ok, err = read_file(s, o, out, each)
      if s.path then s.file:close() end
      if not ok then
        if bar then bar:done() end
        return die(err)
      end
    end
  end
  if #loose > 0 then out.header() each(loose) end
  if bar then bar:done() end
  return invalid > 0 and 1 or 0
end

return _M
