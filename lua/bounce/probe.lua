-- bounce.probe: asks a mail server whether it would take mail for some
-- addresses, and sends none: EHLO, MAIL FROM, RCPT TO for each address,
-- RSET, QUIT. Never DATA.
--
--   local probe = require("bounce.probe")
--   local res, err = probe.run{ address = "192.0.2.25", host = "mx.example.org",
--     helo = "verify.example.com", from = "postmaster@example.com",
--     rcpts = { "ann@example.org", "bounce-probe-7f3a@example.org" } }
--   -- res.stage = "rcpt", res.rcpt[1] = { code = 250, text = "250 2.1.5 OK" }, ...
--
-- Over bounce.net sockets: LuaSocket in plain Lua (run it inside net.run
-- to probe several servers at once), cosockets in OpenResty. Replies are
-- read whole (multi-line), each line at most 4096 bytes and a reply at
-- most 100 lines, whatever the server sends.
--
-- Errors: caller mistakes raise; a connection that fails, times out or
-- gets a malformed reply is nil, message naming the server and the step.
-- A server that answers with a refusal is not an error: res.stage says
-- where the dialogue stopped (greeting, ehlo, smtputf8, mail, rcpt) and
-- res.code, res.text what the server said there.

local net = require("bounce.net")

local type, error, tostring, tonumber, ipairs = type, error, tostring, tonumber, ipairs
local sfind, smatch, ssub, supper, sgsub = string.find, string.match, string.sub, string.upper, string.gsub
local concat = table.concat

local _M = require("bounce.version").lazy({})

local MAX_LINE, MAX_LINES, MAX_RCPTS = 4096, 100, 10

local function argerr(msg)
  error("bad argument #1 to 'run' (" .. msg .. ")", 3)
end

-- A reply reader over sock: returns code (number), text (the lines joined
-- by "\n", codes included, as bounce.classify reads them) or nil, err.
local function reader(sock)
  local buf = ""
  local function line()
    local nl = sfind(buf, "\n", 1, true)
    while not nl do
      if #buf > MAX_LINE then return nil, "a reply line over " .. MAX_LINE .. " bytes" end
      local more, err = sock:receiveany(MAX_LINE)
      if not more then return nil, err end
      buf = buf .. more
      nl = sfind(buf, "\n", 1, true)
    end
    if nl > MAX_LINE + 1 then return nil, "a reply line over " .. MAX_LINE .. " bytes" end
    local l = sgsub(ssub(buf, 1, nl - 1), "\r$", "")
    buf = ssub(buf, nl + 1)
    return l
  end
  return function()
    local lines, code = {}, nil
    while true do
      local l, err = line()
      if not l then return nil, err end
      local c, sep = smatch(l, "^([2-5]%d%d)([ %-]?)")
      if not c or (code and c ~= code) then return nil, "malformed reply: " .. ssub(l, 1, 200) end
      code = c
      lines[#lines + 1] = l
      if sep ~= "-" then return tonumber(code), concat(lines, "\n") end
      if #lines >= MAX_LINES then return nil, "a reply of over " .. MAX_LINES .. " lines" end
    end
  end
end

local function check(o)
  if type(o) ~= "table" then argerr("table expected, got " .. type(o)) end
  for _, k in ipairs({ "address", "helo", "from" }) do
    if type(o[k]) ~= "string" then argerr("field '" .. k .. "': string expected, got " .. type(o[k])) end
  end
  if type(o.rcpts) ~= "table" or #o.rcpts == 0 or #o.rcpts > MAX_RCPTS then
    argerr("field 'rcpts': a list of 1.." .. MAX_RCPTS .. " addresses expected")
  end
  for _, a in ipairs(o.rcpts) do
    if type(a) ~= "string" or sfind(a, "[%c<>]") then
      argerr("field 'rcpts': addresses without controls or <> expected")
    end
  end
  if sfind(o.helo, "[%s%c]") or o.helo == "" then argerr("field 'helo': a host name expected") end
  if sfind(o.from, "[%s%c<>]") then argerr("field 'from': an address expected") end
  if o.port ~= nil and type(o.port) ~= "number" then argerr("field 'port': number expected") end
  if o.timeout ~= nil and type(o.timeout) ~= "number" then argerr("field 'timeout': number expected") end
end

-- syntax: res, err = probe.run{ address = IP, port = 25, host = NAME, helo = NAME,
--   from = ADDR, rcpts = { ADDR, ... }, timeout = 10, smtputf8 = false }
-- res: stage, code, text (the reply where the dialogue stopped, for the
-- stages before RCPT), rcpt (one { code, text } per address asked, in
-- order; fewer when the server closed the session), extensions (EHLO's
-- keywords), where ("mx.example.org[192.0.2.25]:25").
function _M.run(o)
  check(o)
  local port = o.port or 25
  local where = (o.host or o.address) .. "[" .. o.address .. "]:" .. port
  local function fail(step, err) return nil, "SMTP " .. where .. ": " .. step .. ": " .. tostring(err) end
  local sock, err = net.tcp()
  if not sock then return fail("socket", err) end
  sock:settimeout(o.timeout or 10)
  local ok
  ok, err = sock:connect(o.address, port)
  if not ok then sock:close() return fail("connect", err) end
  local read = reader(sock)
  local res = { where = where, extensions = {}, rcpt = {} }
  local function command(line)
    local sent, serr = sock:send(line .. "\r\n")
    if not sent then return nil, serr end
    return read()
  end
  local function stop(stage, code, text)
    res.stage, res.code, res.text = stage, code, text
    if code ~= 421 then command("QUIT") end
    sock:close()
    return res
  end
  local code, text = read()
  if not code then sock:close() return fail("greeting", text) end
  if code ~= 220 then return stop("greeting", code, text) end
  code, text = command("EHLO " .. o.helo)
  if code and code >= 500 then code, text = command("HELO " .. o.helo) end
  if not code then sock:close() return fail("EHLO", text) end
  if code ~= 250 then return stop("ehlo", code, text) end
  local first = true
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do
    if not first then
      local kw, rest = smatch(l, "^%d%d%d[ %-](%S+)%s*(.-)%s*$")
      if kw then res.extensions[supper(kw)] = rest end
    end
    first = false
  end
  if o.smtputf8 and not res.extensions.SMTPUTF8 then
    return stop("smtputf8", nil, "the server does not offer SMTPUTF8 (RFC 6531), which the address needs")
  end
  code, text = command("MAIL FROM:<" .. o.from .. ">" .. (o.smtputf8 and " SMTPUTF8" or ""))
  if not code then sock:close() return fail("MAIL FROM", text) end
  if code < 200 or code > 299 then return stop("mail", code, text) end
  res.stage = "rcpt"
  for i, a in ipairs(o.rcpts) do
    code, text = command("RCPT TO:<" .. a .. ">")
    if not code then
      sock:close()
      if i == 1 then return fail("RCPT TO", text) end
      return res                                  -- the first answer stands
    end
    res.rcpt[i] = { code = code, text = text }
    if code == 421 then sock:close() return res end
  end
  command("RSET")
  command("QUIT")
  sock:close()
  return res
end

return _M
