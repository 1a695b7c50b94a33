-- bounce.cli: the `bounce` command. Built-in commands live here; the others
-- are modules `bounce.cmd.NAME` returning { run = function(args), help = "" }.

local bounce = require("bounce")
local json = require("bounce.json")

local io, ipairs, pcall, require, type, tostring, format, concat =
  io, ipairs, pcall, require, type, tostring, string.format, table.concat

local _M = { _VERSION = bounce._VERSION }

local USAGE = [[
usage: bounce COMMAND [ARGS]

commands:
  classify [REPLY...]   classify SMTP replies or bounce diagnostics; with no
                        REPLY (or "-"), one reply per line from stdin. Prints
                        one JSON object per reply: code, status, text, reason,
                        type, permanent, rule (and rhost, command when known).
      --rhost HOST      the remote host that gave the replies
      --command CMD     the SMTP command they answered (RCPT, DATA, MAIL...)
      --table           a readable table instead of JSON lines
  demo [FILE]           classify the bundled replies (data/replies.txt) and
                        print a table: reply, reason, type, what to do; then
                        replay the bundled events through a tracker
  rules [--check|--by-source]
                        list the classification rules with their sources,
                        count them by source, or check them (every
                        example decided by its rule, none shadowed)
  reasons               the reasons, with the type each implies
  parse PATH...         read bounce messages (a file, an mbox, a maildir, a
                        folder of .eml files, stdin) and print one JSON line
                        (or --csv row) per recipient
  replay EVENTS.jsonl   run delivery events through a tracker: decisions,
                        suppressions, health (bounce parse ... | bounce replay -)
  check ADDR...         may mail go to these addresses? (allowed/suppressed, why)
  suppressions          the suppression list (filters, --csv, --json)
  import FILE.csv       load an ESP's suppression list export
                        (replay, check, suppressions and import keep their
                        history in ./bounce.db, or --db FILE)
  serve                 the HTTP service in nginx: ESP webhooks, /bounces,
                        /check, /suppressions, /health
  policyd               a Postfix policy service: refuses suppressed
                        recipients at RCPT TO (check_policy_service)
  intake                one bounce on stdin into the history (Postfix's pipe
                        transport; exits with sysexits.h codes)
  help [COMMAND]        this text, or a command's
  --version             the version
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

local function die(msg)
  io.stderr:write("bounce: ", msg, "\n")
  return 2
end

-- syntax: opts, positionals = cli.parse_args(args, with_value)
-- Splits args into options (--name VALUE for names in with_value, --flag
-- otherwise) and positionals; nil, message when a value is missing.
local function parse_args(args, with_value)
  local opts, pos, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local name = a:match("^%-%-([%w-]+)$")
    if name and with_value[name] then
      if args[i + 1] == nil then return nil, "--" .. name .. " needs a value" end
      opts[name] = args[i + 1]
      i = i + 2
    elseif name then
      opts[name] = true
      i = i + 1
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

-- syntax: text = cli.advice(r)   -- r: a classification (reason, type)
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

local function classify_cmd(args)
  local opts, pos = parse_args(args, { rhost = true, command = true })
  if not opts then return die(pos) end
  local copts = (opts.rhost or opts.command) and
    { rhost = opts.rhost, command = opts.command } or nil
  if copts and copts.command and copts.command ~= true then
    copts.command = copts.command:upper()
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

-- The repository root, when running from a checkout (for bundled data).
local function root()
  local path = package.searchpath and package.searchpath("bounce.cli", package.path)
  return path and path:match("^(.-)/?lua/bounce/cli%.lua$") or "."
end

local function demo_cmd(args)
  local base = root()
  base = base == "" and "." or base
  local file = args[1] or (base .. "/data/replies.txt")
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
  local ok, replay = pcall(require, "bounce.cmd.replay")
  local events = base .. "/data/events.jsonl"
  if ok and type(replay) == "table" and io.open(events, "r") then
    io.write("\nReplaying ", events, " through a tracker (policy ", base,
             "/policies/default.lua):\n\n")
    return replay.run({ events, "--db", ":memory:", "--policy", base .. "/policies/default.lua" })
  end
  return 0
end

local function rules_cmd(args)
  if args[1] == "--check" then
    local problems = bounce.rules.check()
    for _, p in ipairs(problems) do
      io.write(format("rule %d %s: %s%s\n", p.index, p.rule, p.problem,
                      p.other and (" (" .. p.other .. ")") or ""))
    end
    io.write(format("%d rules, %d problems\n", bounce.rules.count(), #problems))
    return #problems > 0 and 1 or 0
  end
  if args[1] == "--by-source" then
    local counts, order = {}, {}
    for _, r in ipairs(bounce.rules.list()) do
      if not counts[r.source] then order[#order + 1] = r.source end
      counts[r.source] = (counts[r.source] or 0) + 1
    end
    table.sort(order, function(a, b)
      if counts[a] ~= counts[b] then return counts[a] > counts[b] end
      return a < b
    end)
    for _, src in ipairs(order) do io.write(format("%5d  %s\n", counts[src], src)) end
    return 0
  end
  for _, r in ipairs(bounce.rules.list()) do
    local cond = {}
    for _, k in ipairs({ "code", "status", "rhost", "command" }) do
      if r[k] then cond[#cond + 1] = k .. "=" .. r[k] end
    end
    io.write(format("%4d  %-28s %-15s %-20s %s%s\n", r.index, r.name, r.reason, r.source,
                    r.pattern ~= "" and r.pattern or "(status)",
                    #cond > 0 and ("  [" .. concat(cond, " ") .. "]") or ""))
  end
  return 0
end

local function reasons_cmd()
  for _, r in ipairs(bounce.reasons) do
    io.write(format("%-16s %-10s %s\n", r.name, r.type,
                    r.temporary_type ~= r.type and ("(" .. r.temporary_type .. " when 4xx)") or ""))
  end
  return 0
end

local builtin = {
  classify = classify_cmd, demo = demo_cmd, rules = rules_cmd, reasons = reasons_cmd,
}

-- syntax: status = cli.main(argv)
function _M.main(argv)
  local args = {}
  for i = 1, #argv do args[i] = argv[i] end
  local name = table.remove(args, 1)
  if name == nil or name == "help" or name == "--help" or name == "-h" then
    local sub = args[1]
    if sub and not builtin[sub] then
      local ok, m = pcall(require, "bounce.cmd." .. sub)
      if ok and m.help then io.write(m.help, "\n") return 0 end
    end
    io.write(USAGE)
    return name == nil and 2 or 0
  end
  if name == "--version" then
    io.write("bounce ", bounce._VERSION, "\n")
    return 0
  end
  if args[1] == "--help" and builtin[name] then
    io.write(USAGE)
    return 0
  end
  if builtin[name] then return builtin[name](args) end
  local ok, m = pcall(require, "bounce.cmd." .. name)
  if not ok or type(m) ~= "table" or not m.run then
    if ok or tostring(m):find("module 'bounce.cmd." .. name .. "' not found", 1, true) then
      return die("unknown command '" .. name .. "' (bounce help lists them)")
    end
    return die(tostring(m))
  end
  if args[1] == "--help" then io.write(m.help or USAGE, "\n") return 0 end
  return m.run(args) or 0
end

return _M
