-- bounce.cli: the `bounce` command. Built-in commands live here; the others
-- are modules `bounce.cmd.NAME` returning { run = function(args), help = "" }.

local bounce = require("bounce")
local json = require("bounce.json")

local io, ipairs, pcall, require, type, tostring, format, concat, package, debug =
  io, ipairs, pcall, require, type, tostring, string.format, table.concat, package, debug

local _M = { _VERSION = bounce._VERSION }

local USAGE = [[
usage: bounce COMMAND [ARGS]

commands:
  classify [REPLY...]   classify SMTP replies or bounce diagnostics (JSON
                        lines, or --table); stdin when no REPLY
  demo [FILE]           classify the bundled replies, then replay the bundled
                        events through a tracker
  rules [--check|--by-source]
                        list the classification rules with their sources,
                        count them by source, or check them
  reasons               the reasons, with the type each implies
  parse PATH...         read bounce messages (a file, an mbox, a maildir, a
                        folder of .eml files, stdin): one JSON line, CSV row
                        or Sisimai record per recipient
  replay EVENTS.jsonl   run delivery events through a tracker: decisions,
                        suppressions, health (bounce parse ... | bounce replay -)
  check ADDR...         may mail go to these addresses? (allowed/suppressed, why)
  verify ADDR... [FILE] should mail go to them at all? syntax, DNS (MX), history,
                        an SMTP probe with --smtp: valid/invalid/risky/unknown
  suppressions          the suppression list (filters, --csv, --json)
  import FILE.csv       load an ESP's suppression list export
                        (replay, check, suppressions and import keep their
                        history in ./bounce.db, or --db FILE; replay and import
                        start a new one only with --create)
  serve                 the HTTP service in nginx: ESP webhooks, /events,
                        /bounces, /check, /suppressions, /health, /verify
  policyd               a Postfix policy service: refuses suppressed
                        recipients at RCPT TO (check_policy_service)
  intake                one bounce on stdin into the history (Postfix's pipe
                        transport; exits with sysexits.h codes)
  help [COMMAND]        this text, or a command's (also COMMAND --help)
  --version             the version

Options are checked: an unknown one is an error. --rules FILE (classify,
rules, parse, replay, import, serve) adds the rules of a rules file ahead of
the built-in ones (bounce help rules).
]]

-- What a sender should do, by reason (the names of bounce.reasons, which
-- come from the C table; spec/unit/cli_spec.lua checks each has its line).
local ADVICE = {
  userunknown = "suppress: the mailbox does not exist",
  hostunknown = "suppress: the domain does not exist",
  hasmoved = "suppress: the address moved, no forwarding",
  notaccept = "suppress: the domain accepts no mail",
  mailboxfull = "retry later; suppress after repeated failures",
  exceedlimit = "retry later; the message exceeds a mailbox limit",
  mesgtoobig = "send a smaller message",
  suspend = "retry later; the mailbox is disabled",
  expired = "retry later; the queue gave up in time",
  systemerror = "retry later; the receiver's system failed",
  systemfull = "retry later; the receiver is out of space",
  networkerror = "retry later; DNS or network trouble",
  mailererror = "retry later; the receiving mailer failed",
  toomanyconn = "slow down: fewer connections or recipients",
  speeding = "slow down: the receiver rate-limits you",
  blocked = "hold: the sending IP or domain is blocklisted",
  badreputation = "hold: warm up, lower volume, check complaints",
  requireptr = "hold: fix the sending IP's reverse DNS",
  authfailure = "hold: fix SPF, DKIM and DMARC alignment",
  securityerror = "hold: fix TLS or authentication settings",
  spamdetected = "hold: the content was judged spam",
  virusdetected = "hold: the message carried malware",
  contenterror = "hold: fix the message format",
  policyviolation = "hold: the receiver's policy refused it",
  notcompliantrfc = "hold: fix the message headers (RFC 5322)",
  norelaying = "hold: wrong route; the server does not relay",
  rejected = "hold: the sender address was refused",
  filtered = "retry later; a filter refused this message",
  syntaxerror = "hold: fix the sending MTA's SMTP dialogue",
  failedstarttls = "hold: fix TLS with the receiver",
  onhold = "retry later; deferred, or a reason no rule reads",
  undefined = "retry later; the reason is unknown",
  delivered = "nothing: delivered",
  feedback = "suppress: the recipient reported the mail as spam",
  vacation = "nothing: an auto-reply, the mail was delivered",
}

-- syntax: opts, positionals = cli.parse_args(args, with_value [, flags])
-- Splits args into options and positionals: --name VALUE (or --name=VALUE)
-- for names in with_value (a value "list" collects repeats in a list),
-- --name for names in flags; "-" is a positional, "--" ends the options.
-- -h and --help set opts.help. nil, message when a value is missing or,
-- with flags given, for an option neither table names. (Without flags any
-- other --name is a flag: the lenient form older commands used.)
local function parse_args(args, with_value, flags)
  local opts, pos, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local name, inline = a:match("^%-%-([%w][%w_-]*)=(.*)$")
    if not name then name = a:match("^%-%-([%w][%w_-]*)$") end
    if a == "--" then
      for j = i + 1, #args do pos[#pos + 1] = args[j] end
      break
    elseif a == "-h" or a == "--help" then
      opts.help = true
      i = i + 1
    elseif name and with_value[name] then
      local v = inline
      if v == nil then
        v = args[i + 1]
        if v == nil then return nil, "--" .. name .. " needs a value" end
        i = i + 1
      end
      if with_value[name] == "list" then
        opts[name] = opts[name] or {}
        opts[name][#opts[name] + 1] = v
      else
        opts[name] = v
      end
      i = i + 1
    elseif name and (not flags or flags[name]) and inline == nil then
      opts[name] = true
      i = i + 1
    elseif name or (a:match("^%-.") and flags) then
      if name and flags and flags[name] then return nil, "--" .. name .. " takes no value" end
      return nil, "unknown option " .. a:match("^[^=]*")
    else
      pos[#pos + 1] = a
      i = i + 1
    end
  end
  return opts, pos
end

_M.parse_args = parse_args

local function clip(s, n)
  s = s:gsub("[%c]", " ")
  if #s <= n then return s .. (" "):rep(n - #s) end
  return s:sub(1, n - 3) .. "..."
end

-- syntax: s = cli.pad(s, n)   -- s followed by spaces up to n bytes (never cut)
local function pad(s, n)
  s = tostring(s)
  if #s >= n then return s end
  return s .. (" "):rep(n - #s)
end
_M.pad = pad

-- syntax: path = cli.searchpath(name, path)
-- package.searchpath, which Lua 5.1 and LuaJIT lack: the first file the
-- templates of path (";"-separated, "?" for the name with dots as slashes)
-- name that can be opened, or nil.
local function searchpath(name, path)
  local native = package.searchpath
  if native then return (native(name, path)) end
  local file = name:gsub("%.", "/")
  for template in path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", file)
    local f = io.open(candidate, "rb")
    if f then f:close() return candidate end
  end
  return nil
end
_M.searchpath = searchpath

-- syntax: n, err = cli.use_rules(path)
-- Loads a rules file (bounce.rules_file) into the rules bounce.classify,
-- bounce.parse and the tracker use, ahead of the built-in ones.
function _M.use_rules(path)
  return require("bounce.rules_file").apply(path)
end

-- syntax: advice_text = cli.advice(r)   -- r: a classification (reason, type)
-- A dead-address reason said with a 4xx is not final: retry instead.
local function advice(r)
  local a = ADVICE[r.reason] or ""
  if r.type == "soft" and a:find("^suppress") then
    a = a:gsub("^suppress", "retry later")
  end
  return a
end

_M.advice = advice

local function table_row(reply, r)
  return format("%s  %-15s %-9s %s", clip(reply, 58), r.reason, r.type, advice(r))
end

local function table_header()
  return format("%s  %-15s %-9s %s\n%s", clip("REPLY", 58), "REASON", "TYPE",
                "WHAT TO DO", ("-"):rep(120))
end

local HELP = {}

HELP.classify = [[
usage: bounce classify [--rhost HOST] [--command CMD] [--table] [--rules FILE] [REPLY...]

Classifies SMTP replies or bounce diagnostics. Each REPLY is one reply; with
none (or "-"), one reply per line from stdin. Prints one JSON object per
reply: code, status, text, reason, type, permanent, rule (and rhost, command
when known); a reply it cannot read is {"error": ..., "input": ...}.

  --rhost HOST    the remote host that gave the replies (rules may be
                  limited to a host)
  --command CMD   the SMTP command they answered: CONNECT, HELO, STARTTLS,
                  AUTH, MAIL, RCPT or DATA
  --table         a readable table: reply, reason, type, what to do
  --rules FILE    a rules file (bounce help rules), ahead of the built-in rules

Exit status: 0 when every reply was classified, 1 when one was not, 2 on a
usage error.]]

HELP.demo = [[
usage: bounce demo [FILE]

Classifies the bundled replies (or the replies in FILE, one per line; lines
starting with # are skipped) and prints a table: reply, reason, type, what
to do. Then replays the bundled delivery events through a tracker with the
default policy, in memory (nothing is written).]]

HELP.rules = [[
usage: bounce rules [--check|--by-source] [--rules FILE]

Lists the classification rules in priority order: index, name, reason,
source, pattern, conditions. --by-source counts them by source instead.
--check checks them: every example decided by its own rule, every
counter-example not, no rule shadowed by an earlier one (exit 1 on a
problem).

  --rules FILE    a rules file: a Lua file returning a list of rules, each a
                  table as bounce.rules.add takes it:
                    return {
                      { name = "acme-frozen", pattern = "account*frozen",
                        reason = "suspend", code = "55",
                        example = "550 account frozen" },
                    }
                  run in the policy sandbox (no io, os, require; bounded);
                  its rules come first, ahead of the built-in ones. The
                  same option works for classify, parse, replay, import and
                  serve (where an edit is reloaded in every worker).]]

HELP.reasons = [[
usage: bounce reasons

Prints each reason with the type it implies (hard, soft, block, ...), and
the type it takes when said with a 4xx where that differs.]]

local function die(msg)
  io.stderr:write("bounce: ", msg, "\n")
  return 2
end

local function classify_cmd(args)
  local opts, pos = parse_args(args, { rhost = true, command = true, rules = true }, { table = true })
  if not opts then return die(pos .. " (bounce classify --help)") end
  if opts.help then io.write(HELP.classify, "\n") return 0 end
  if opts.rules then
    local n, err = _M.use_rules(opts.rules)
    if not n then return die(err) end
  end
  local copts = (opts.rhost or opts.command) and
    { rhost = opts.rhost, command = opts.command and opts.command:upper() } or nil
  if copts and copts.command then
    local ok, err = pcall(bounce.classify, "250 ok", copts)
    if not ok then
      return die("--command: CONNECT, HELO, STARTTLS, AUTH, MAIL, RCPT or DATA expected, got '"
        .. opts.command .. "'" .. (tostring(err):find("command") and "" or ": " .. tostring(err)))
    end
  end
  local function each(fn)
    if #pos == 0 or (pos[1] == "-" and #pos == 1) then
      for line in io.stdin:lines() do fn(line) end
    else
      for _, r in ipairs(pos) do fn(r) end
    end
  end
  if opts.table then io.write(table_header(), "\n") end
  local bad = 0
  each(function(line)
    local ok, r, err = pcall(bounce.classify, line, copts)
    if not ok then
      io.stderr:write("bounce: ", tostring(r), "\n")
      bad = bad + 1
    elseif not r then
      if opts.table then
        io.write(clip(line, 58), "  (", err, ")\n")
      else
        io.write(json.encode({ error = err, input = line }), "\n")
      end
      bad = bad + 1
    elseif opts.table then
      io.write(table_row(line, r), "\n")
    else
      io.write(json.encode(r), "\n")
    end
  end)
  return bad > 0 and 1 or 0
end

-- Where this module's file is: its folder, or nil when loaded without a
-- file name.
local function module_dir()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  return src:match("^@(.*)/[^/]*$") or "."
end

-- syntax: path = cli.data_file(name)
-- A bundled data file (replies.txt, events.jsonl): beside the modules when
-- installed (bounce/data/NAME, as the rockspec and `make install` put it),
-- else in the checkout (lua/bounce/cli.lua -> data/NAME); nil when absent.
function _M.data_file(name)
  local dir = module_dir()
  local candidates = {}
  if dir then
    candidates[1] = dir .. "/data/" .. name
    candidates[2] = dir .. "/../../data/" .. name
  end
  local found = searchpath("bounce.data.x", package.path)
  if found then candidates[#candidates + 1] = found:gsub("x%.lua$", name) end
  for _, c in ipairs(candidates) do
    local f = io.open(c, "r")
    if f then f:close() return c end
  end
  return nil
end

local function demo_cmd(args)
  local opts, pos = parse_args(args, {}, {})
  if not opts then return die(pos .. " (bounce demo --help)") end
  if opts.help then io.write(HELP.demo, "\n") return 0 end
  if #pos > 1 then return die("one replies file at a time (bounce demo --help)") end
  local file = pos[1] or _M.data_file("replies.txt")
  if not file then return die("the bundled replies (bounce/data/replies.txt) are not installed") end
  local f, err = io.open(file, "r")
  if not f then return die(err) end
  io.write("bounce ", bounce._VERSION, ": classifying the replies in ", file, "\n\n")
  io.write(table_header(), "\n")
  local counts, n = {}, 0
  for line in f:lines() do
    if line:match("%S") and not line:match("^#") then
      local r, e = bounce.classify(line)
      if r then
        io.write(table_row(line, r), "\n")
        counts[r.type] = (counts[r.type] or 0) + 1
        n = n + 1
      else
        io.write(clip(line, 58), "  (", e, ")\n")
      end
    end
  end
  f:close()
  local parts = {}
  for _, t in ipairs({ "hard", "soft", "block", "delivered" }) do
    parts[#parts + 1] = format("%d %s", counts[t] or 0, t)
  end
  io.write(("-"):rep(120), "\n", n, " replies: ", concat(parts, ", "), "\n")
  local events = _M.data_file("events.jsonl")
  local ok, replay = pcall(require, "bounce.cmd.replay")
  if events and ok and type(replay) == "table" then
    io.write("\nReplaying ", events, " through a tracker (the default policy, in memory):\n\n")
    return replay.run({ events, "--db", ":memory:" })
  end
  return 0
end

local function rules_cmd(args)
  local opts, pos = parse_args(args, { rules = true }, { check = true, ["by-source"] = true })
  if not opts then return die(pos .. " (bounce rules --help)") end
  if opts.help then io.write(HELP.rules, "\n") return 0 end
  if #pos > 0 then return die("unexpected argument '" .. pos[1] .. "' (bounce rules --help)") end
  if opts.rules then
    local n, err = _M.use_rules(opts.rules)
    if not n then return die(err) end
  end
  if opts.check then
    local problems = bounce.rules.check()
    for _, p in ipairs(problems) do
      io.write(format("rule %d %s: %s%s\n", p.index, p.rule, p.problem,
                      p.other and (" (" .. p.other .. ")") or ""))
    end
    io.write(format("%d rules, %d problems\n", bounce.rules.count(), #problems))
    return #problems > 0 and 1 or 0
  end
  local list = bounce.rules.list()
  if opts["by-source"] then
    local counts, order = {}, {}
    for _, r in ipairs(list) do
      if not counts[r.source] then order[#order + 1] = r.source end
      counts[r.source] = (counts[r.source] or 0) + 1
    end
    table.sort(order, function(x, y)
      if counts[x] ~= counts[y] then return counts[x] > counts[y] end
      return x < y
    end)
    for _, src in ipairs(order) do io.write(format("%5d  %s\n", counts[src], src)) end
    return 0
  end
  local width, swidth = 28, 20
  for _, r in ipairs(list) do
    if #r.name > width then width = #r.name end
    if #r.source > swidth then swidth = #r.source end
  end
  for _, r in ipairs(list) do
    local cond = {}
    for _, k in ipairs({ "code", "status", "rhost", "command" }) do
      if r[k] then cond[#cond + 1] = k .. "=" .. r[k] end
    end
    io.write(format("%4d  %s %-15s %s %s%s\n", r.index, pad(r.name, width), r.reason,
                    pad(r.source, swidth), r.pattern ~= "" and r.pattern or "(status)",
                    #cond > 0 and ("  [" .. concat(cond, " ") .. "]") or ""))
  end
  return 0
end

local function reasons_cmd(args)
  local opts, pos = parse_args(args, {}, {})
  if not opts then return die(pos .. " (bounce reasons --help)") end
  if opts.help then io.write(HELP.reasons, "\n") return 0 end
  if #pos > 0 then return die("unexpected argument '" .. pos[1] .. "'") end
  for _, r in ipairs(bounce.reasons) do
    io.write(format("%-16s %-10s %s\n", r.name, r.type,
                    r.temporary_type ~= r.type and ("(" .. r.temporary_type .. " when 4xx)") or ""))
  end
  return 0
end

local builtin = {
  classify = classify_cmd, demo = demo_cmd, rules = rules_cmd, reasons = reasons_cmd,
}

-- The module of a command (bounce.cmd.NAME), or nil and why.
local function command(name)
  local ok, m = pcall(require, "bounce.cmd." .. name)
  if ok and type(m) == "table" and m.run then return m end
  if ok or tostring(m):find("module 'bounce.cmd." .. name .. "' not found", 1, true) then
    return nil, "unknown command '" .. name .. "' (bounce help lists them)"
  end
  return nil, tostring(m)
end

-- Whether args ask for help before any "--".
local function wants_help(args)
  for _, a in ipairs(args) do
    if a == "--" then return false end
    if a == "--help" or a == "-h" then return true end
  end
  return false
end

-- syntax: status = cli.main(argv)
function _M.main(argv)
  local args = {}
  for i = 1, #argv do args[i] = argv[i] end
  local name = table.remove(args, 1)
  if name == nil or name == "help" or name == "--help" or name == "-h" then
    local sub = args[1]
    if args[2] then return die("unexpected argument '" .. args[2] .. "' (bounce help [COMMAND])") end
    if sub and HELP[sub] then io.write(HELP[sub], "\n") return 0 end
    if sub then
      local m, err = command(sub)
      if not m then return die(err) end
      io.write(m.help or USAGE, "\n")
      return 0
    end
    io.write(USAGE)
    return name == nil and 2 or 0
  end
  if name == "--version" then
    if args[1] then return die("unexpected argument '" .. args[1] .. "' (bounce --version takes none)") end
    io.write("bounce ", bounce._VERSION, "\n")
    return 0
  end
  if builtin[name] then return builtin[name](args) end
  if name:sub(1, 1) == "-" then return die("unknown option " .. name .. " (bounce help)") end
  local m, err = command(name)
  if not m then return die(err) end
  if wants_help(args) then io.write(m.help or USAGE, "\n") return 0 end
  return m.run(args) or 0
end

return _M
