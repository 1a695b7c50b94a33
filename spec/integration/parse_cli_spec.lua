-- bounce parse: bounce messages in, one JSON line (or CSV row) per recipient out.
local cjson = require("cjson")
local mail = require("spec.support.mail")

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs a shell command line; returns stdout, stderr, exit status.
local function sh(cmd, env)
  local err = os.tmpname()
  local p = assert(io.popen((env or "") .. " " .. cmd .. " 2>" .. q(err) .. "; echo \"exit:$?\""))
  local out = p:read("*a")
  p:close()
  local f = assert(io.open(err, "rb"))
  local errout = f:read("*a")
  f:close()
  os.remove(err)
  local code = tonumber(out:match("exit:(%d+)%s*$"))
  return (out:gsub("exit:%d+%s*$", "")), errout, code
end

local function bounce(args, env) return sh("lua5.4 bin/bounce " .. args, env) end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

local ANN = mail.dsn{ rcpt = "ann@example.org", status = "5.1.1", campaign = "march",
                      diag = "550 5.1.1 <ann@example.org>: user unknown" }
local BOB = mail.dsn{ rcpt = "bob@example.org", status = "4.2.2", campaign = "march",
                      diag = "452 4.2.2 mailbox full", date = "Mon, 3 Mar 2025 11:00:00 +0000",
                      eol = "\r\n" }
local NOT_A_BOUNCE = "From: carol@example.com\nSubject: lunch?\n\nSee you at noon.\n"

-- The fields of one CSV row (quoted fields with "" inside, no line breaks).
local function csv_fields(row)
  local list, i = {}, 1
  while i <= #row + 1 do
    if row:sub(i, i) == '"' then
      local j, v = i + 1, {}
      while true do
        local c = row:sub(j, j)
        if c == '"' and row:sub(j + 1, j + 1) == '"' then v[#v + 1] = '"' j = j + 2
        elseif c == '"' then j = j + 1 break
        else v[#v + 1] = c j = j + 1 end
      end
      list[#list + 1] = table.concat(v)
      i = j + 1
    else
      local j = row:find(",", i, true) or #row + 1
      list[#list + 1] = row:sub(i, j - 1)
      i = j + 1
    end
  end
  return list
end

describe("bounce parse", function()
  local dir
  before_each(function() dir = mail.tmpdir() end)
  after_each(function() mail.cleanup() end)

  it("prints one JSON line per recipient, with where the message was", function()
    local box = mail.write(dir .. "/bounces.mbox", mail.mbox({ ANN, BOB }))
    local out, err, code = bounce("parse --campaign X-Campaign-Id " .. q(box))
    assert.equals(0, code)
    assert.equals("", err)
    local l = lines(out)
    assert.equals(2, #l)
    local a, b = cjson.decode(l[1]), cjson.decode(l[2])
    assert.equals("ann@example.org", a.rcpt)
    assert.equals("userunknown", a.reason)
    assert.equals("hard", a.type)
    assert.equals("5.1.1", a.status)
    assert.equals(550, a.code)
    assert.equals(1740996005, a.at)          -- Mon, 3 Mar 2025 10:00:05 +0000
    assert.equals("rfc3464", a.format)
    assert.equals("news@example.com", a.sender)
    assert.equals("march", a.campaign)
    assert.equals("march", a.headers["X-Campaign-Id"])
    assert.equals(box, a.file)
    assert.equals(1, a.index)
    assert.equals(0, a.offset)
    assert.equals("bob@example.org", b.rcpt)
    assert.equals("mailboxfull", b.reason)
    assert.equals("soft", b.type)
    assert.equals(2, b.index)
    assert.equals(#mail.mbox({ ANN }), b.offset)
  end)

  it("reads stdin when the path is - or missing", function()
    local file = mail.write(dir .. "/ann.eml", ANN)
    for _, args in ipairs({ "parse - < " .. q(file), "parse < " .. q(file) }) do
      local out, _, code = bounce(args)
      assert.equals(0, code)
      local r = cjson.decode(lines(out)[1])
      assert.equals("ann@example.org", r.rcpt)
      assert.equals("stdin", r.file)
    end
  end)

  it("prints CSV with --csv: a header line, then RFC 4180 rows", function()
    local msg = mail.dsn{ rcpt = "ann@example.org", status = "5.1.1", campaign = "march",
                          diag = "550 5.1.1 user unknown", subject = 'Sale, "today" only' }
    local out, _, code = bounce("parse --csv --header X-Campaign-Id " .. q(mail.write(dir .. "/m.eml", msg)))
    assert.equals(0, code)
    local rows = {}
    for row in out:gmatch("(.-)\r\n") do rows[#rows + 1] = row end
    assert.equals(2, #rows)
    assert.equals(out, table.concat(rows, "\r\n") .. "\r\n")   -- every line ends in CRLF
    assert.matches("^file,index,offset,rcpt,", rows[1])
    assert.matches(",X%-Campaign%-Id$", rows[1])
    assert.matches("^" .. (dir .. "/m.eml"):gsub("%p", "%%%0") .. ",1,0,ann@example.org,", rows[2])
    assert.matches(',"Sale, ""today"" only",', rows[2], 1, true)
    assert.matches(",userunknown,hard,true,", rows[2], 1, true)
    assert.matches(",march$", rows[2])
    -- times in ISO 8601 UTC, as in every CSV (README, Output fields), in the `at` column
    local at = 0
    for k, name in ipairs(csv_fields(rows[1])) do if name == "at" then at = k end end
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", csv_fields(rows[2])[at])
  end)

  it("pipes into bounce replay", function()
    local box = mail.write(dir .. "/bounces.mbox", mail.mbox({ ANN, BOB }))
    local out, err, code = sh("lua5.4 bin/bounce parse --campaign X-Campaign-Id " .. q(box) ..
      " | lua5.4 bin/bounce replay --db :memory: --policy policies/default.lua")
    assert.equals("", err)
    assert.equals(0, code)
    assert.matches("ann@example.org%s+hard/userunknown%s+suppress forever %(hard%)", out)
    assert.matches("bob@example.org%s+soft/mailboxfull%s+retry at 2025%-03%-03 11:10", out)
    assert.matches("Suppressed at [^\n]*%(1%):\n  ann@example.org", out)
    assert.matches("campaign:march%s+2%s", out)
    assert.matches("sender:news@example.com%s+2%s", out)
  end)

  it("with --verp, tracks the address the mail was sent to, not the forward that failed", function()
    local fwd = mail.dsn{ rcpt = "ann.lee@mail.example.net", status = "5.1.1",
                         diag = "550 5.1.1 user unknown" }
    fwd = fwd:gsub("To: news@example.com", "To: bounces+ann=example.org@news.example.com", 1)
    local path = mail.write(dir .. "/fwd.eml", fwd)
    local out, err, code = bounce("parse --verp bounces+ " .. q(path))
    assert.equals(0, code, err)
    local r = cjson.decode(lines(out)[1])
    assert.same({ "ann.lee@mail.example.net", "ann@example.org" }, { r.rcpt, r.verp_rcpt })
    out = bounce("parse --csv --verp bounces+ " .. q(path))
    assert.matches("^file,index,offset,rcpt,original_rcpt,verp_rcpt,", out)
    assert.matches(",ann.lee@mail.example.net,[^,]*,ann@example.org,", out)
    out, err, code = sh("lua5.4 bin/bounce parse --verp bounces+ " .. q(path) ..
      " | lua5.4 bin/bounce replay --db :memory: --policy policies/default.lua")
    assert.equals(0, code, err)
    assert.matches("ann@example.org%s+hard/userunknown%s+suppress forever", out)
    assert.not_matches("ann.lee@", out)
    local _, uerr, ucode = bounce("parse --verp 'a b' " .. q(path))
    assert.equals(2, ucode)
    assert.matches("%-%-verp needs the local%-part prefix", uerr)
  end)

  it("reports a message it cannot parse on stderr with its place, and goes on", function()
    local box = mail.write(dir .. "/mixed.mbox", mail.mbox({ ANN, NOT_A_BOUNCE, BOB }))
    local out, err, code = bounce("parse " .. q(box) .. " " .. q(dir .. "/missing"))
    assert.equals(1, code)
    assert.equals(2, #lines(out))
    local offset = #mail.mbox({ ANN })
    assert.matches(box .. ": message 2 at byte " .. offset .. ": not a bounce", err, 1, true)
    assert.matches(dir .. "/missing: No such file or directory", err, 1, true)
    assert.matches("3 messages read, 2 results, 2 failures", err, 1, true)
  end)

  it("reads a maildir", function()
    os.execute("mkdir -p " .. q(dir .. "/md/cur") .. " " .. q(dir .. "/md/new"))
    mail.write(dir .. "/md/new/1740996000.M1.mx", BOB)
    mail.write(dir .. "/md/cur/1740995000.M1.mx:2,S", ANN)
    local out, _, code = bounce("parse " .. q(dir .. "/md"))
    assert.equals(0, code)
    local l = lines(out)
    assert.equals("ann@example.org", cjson.decode(l[1]).rcpt)
    assert.equals(dir .. "/md/new/1740996000.M1.mx", cjson.decode(l[2]).file)
  end)

  it("shows a progress bar on stderr only when asked or on a terminal", function()
    local box = mail.write(dir .. "/bounces.mbox", mail.mbox({ ANN, BOB }))
    local _, err = bounce("parse " .. q(box), "BOUNCE_PROGRESS=1")
    assert.matches("100%%", err)
    assert.matches("msg/s", err)
    assert.matches(box, err, 1, true)
    local _, quiet = bounce("parse " .. q(box))   -- stderr is a file here, not a terminal
    assert.equals("", quiet)
  end)

  it("dates a bounce without Arrival-Date or Last-Attempt-Date by its own Date header", function()
    -- a backlog from 2015 read today is recorded in 2015
    local old = mail.dsn{ rcpt = "old@example.org", status = "5.1.1", diag = "550 5.1.1 user unknown",
                          date = false, own_date = "Tue, 10 Mar 2015 08:00:00 +0100",
                          sent = "Mon, 09 Mar 2015 10:00:00 +0000" }
    local older = mail.dsn{ rcpt = "older@example.org", status = "5.1.1", diag = "550 5.1.1 user unknown",
                            date = false, sent = "Mon, 09 Mar 2015 10:00:00 +0000" }
    local box = mail.write(dir .. "/old.mbox", mail.mbox({ old, older, ANN }))
    local out, err, code = bounce("parse " .. q(box))
    assert.equals(0, code, err)
    local l = lines(out)
    local a, b, c = cjson.decode(l[1]), cjson.decode(l[2]), cjson.decode(l[3])
    assert.same({ 1425970800, "date" }, { a.at, a.at_from })              -- the bounce's Date
    assert.same({ 1425895200, "original-date" }, { b.at, b.at_from })     -- the returned message's
    assert.same({ 1740996005 }, { c.at, c.at_from })   -- Last-Attempt-Date: no at_from
    out = sh("lua5.4 bin/bounce parse " .. q(box) .. " | lua5.4 bin/bounce replay - --db :memory:")
    assert.matches("2015%-03%-10 07:00%s+old@example.org%s+hard/userunknown", out)
  end)

  it("prints Sisimai's records with --format sisimai, and leaves out deliveries with --only failed", function()
    local delivered = mail.dsn{ rcpt = "fine@example.org", status = "2.0.0", diag = "250 2.0.0 OK" }
      :gsub("Action: failed", "Action: delivered")
    local listed = ANN:gsub("X%-Campaign%-Id: march", "List-Id: March letter <march.example.com>")
    local box = mail.write(dir .. "/s.mbox", mail.mbox({ listed, delivered }))
    local out, err, code = bounce("parse --format sisimai " .. q(box))
    assert.equals(0, code, err)
    local l = lines(out)
    assert.equals(2, #l)
    local r = cjson.decode(l[1])
    assert.same({
      recipient = "ann@example.org", deliverystatus = "5.1.1", replycode = "550", reason = "userunknown",
      hardbounce = 1, softbounce = 0, timestamp = 1740996005, action = "failed",
      diagnosticcode = "550 5.1.1 <ann@example.org>: user unknown", diagnostictype = "SMTP",
      rhost = "", lhost = "mx.example.net", smtpcommand = "", smtpagent = "RFC3464",
      destination = "example.org", senderdomain = "example.com", addresser = "news@example.com",
      subject = "Our March letter", messageid = "ann.example.org@example.com", listid = "march.example.com",
      feedbacktype = "", alias = "", origin = box, catch = "", timezoneoffset = "+0000",
      -- as Sisimai::String->token("news@example.com", "ann@example.org", 1740996005) gives it
      token = pcall(require, "openssl.digest") and "aa535b5d5397a659888416b697225ebf0ed3e2e2" or "",
    }, r)
    assert.equals("delivered", cjson.decode(l[2]).action)
    out, err, code = bounce("parse --format sisimai --only failed " .. q(box))
    assert.equals(0, code, err)
    assert.equals(1, #lines(out))
    out = bounce("parse --only failed --csv " .. q(box))
    assert.equals(2, #lines(out))   -- the header and ann's row
    local _, uerr, ucode = bounce("parse --format xml " .. q(box))
    assert.equals(2, ucode)
    assert.matches("%-%-format: json, csv or sisimai expected", uerr)
    _, uerr, ucode = bounce("parse --only delivered " .. q(box))
    assert.equals(2, ucode)
    assert.matches("%-%-only: 'failed' expected", uerr)
  end)

  it("classifies with the rules of a --rules file", function()
    local msg = mail.dsn{ rcpt = "ann@example.org", status = "5.0.0", diag = "550 the parrot is no more" }
    local path = mail.write(dir .. "/p.eml", msg)
    local out = bounce("parse " .. q(path))
    assert.not_equals("suspend", cjson.decode(lines(out)[1]).reason)
    local rules = mail.write(dir .. "/rules.lua",
      'return { { name = "parrot", pattern = "parrot is no more", reason = "suspend" } }\n')
    out = bounce("parse --rules " .. q(rules) .. " " .. q(path))
    local r = cjson.decode(lines(out)[1])
    assert.same({ "suspend", "parrot" }, { r.reason, r.rule })
    mail.write(rules, 'local x = 1\nos.exit(3)\nreturn { { pattern = "parrot", reason = "suspend" } }\n')
    local _, err, code = bounce("parse --rules " .. q(rules) .. " " .. q(path))
    assert.equals(2, code)
    assert.matches("rules.lua:2: rules file may not use 'os'", err, 1, true)
  end)

  it("explains itself with --help and refuses unknown options", function()
    local out, _, code = bounce("parse --help")
    assert.equals(0, code)
    assert.matches("usage: bounce parse", out)
    assert.matches("bounce replay", out)
    assert.matches("--csv", out)
    local _, err
    _, err, code = bounce("parse --nope")
    assert.equals(2, code)
    assert.matches("unknown option --nope", err, 1, true)
  end)
end)
