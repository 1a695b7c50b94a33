-- The commands that keep their history in a SQLite file: replay, check,
-- suppressions, import (bin/bounce, run as a user would).
local cjson = require("cjson")

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs bin/bounce; returns stdout, stderr, exit code.
local function run(args, input)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = "lua5.4 bin/bounce " .. args .. " >" .. out .. " 2>" .. err
  if input then
    local inp = os.tmpname()
    local f = assert(io.open(inp, "w"))
    f:write(input)
    f:close()
    cmd = cmd .. " <" .. inp
    local ok, _, code = os.execute(cmd)
    os.remove(inp)
    if type(ok) == "number" then code = ok / 256 end
    local o, e = io.open(out):read("*a"), io.open(err):read("*a")
    os.remove(out) os.remove(err)
    return o, e, code
  end
  local ok, _, code = os.execute(cmd)
  if type(ok) == "number" then code = ok / 256 end   -- 5.1
  local o, e = io.open(out):read("*a"), io.open(err):read("*a")
  os.remove(out) os.remove(err)
  return o, e, code
end

local function have_sqlite()
  local ok = pcall(require, "bounce.sqlite")
  return ok
end

describe("bounce replay, check, suppressions, import with --db", function()
  local dir, db
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    db = dir .. "/bounce.db"
  end)
  after_each(function() os.execute("rm -rf " .. sh_quote(dir)) end)

  local T0 = 1795132800   -- 2026-11-20 00:00 UTC
  local events = table.concat({
    '{"rcpt":"gone@example.com","reply":"550 5.1.1 <gone@example.com>: user unknown","at":' .. T0 .. '}',
    '{"rcpt":"full@example.com","type":"soft","reason":"mailboxfull","at":' .. T0 .. '}',
    '{"rcpt":"angry@example.org","type":"complaint","at":' .. (T0 + 60) .. '}',
    '{"rcpt":"fine@example.com","type":"delivered","at":' .. T0 .. '}',
  }, "\n") .. "\n"

  it("keeps what replay learnt for the next command", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    local _, err, code = run("replay - --json --db " .. sh_quote(db), events)
    assert.equal("", err)
    assert.equal(0, code)
    local out
    out, _, code = run("check gone@example.com fine@example.com --at " .. (T0 + 10)
      .. " --db " .. sh_quote(db))
    assert.equal(1, code)   -- one of them is suppressed
    assert.matches("gone@example.com%s+suppressed%s+suppressed since 2026%-11%-20: hard bounce %(userunknown%)", out)
    assert.matches("fine@example.com%s+allowed", out)
    out, _, code = run("check full@example.com --json --at " .. (T0 + 10) .. " --db " .. sh_quote(db))
    assert.equal(0, code)
    local j = cjson.decode(out)
    assert.equal(true, j.allowed)
    assert.matches("^bouncing: 1 soft bounce", j.why)
  end)

  it("reports events it cannot take, by line, and goes on", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    local input = '{"type":"hard","at":' .. T0 .. '}\n' ..            -- a parse result with no rcpt
      '{"rcpt":"<Undisclosed Recipients>","type":"hard","at":' .. T0 .. '}\n' ..
      'not json\n' .. events
    local out, err, code = run("replay - --json --db " .. sh_quote(db), input)
    assert.equal(1, code)
    assert.equal("stdin:1: no rcpt: the event names no recipient\n" ..
      "stdin:2: invalid address '<Undisclosed Recipients>': expected local@domain\n" ..
      "stdin:3: not a JSON object\n", err)
    local n = 0
    for _ in out:gmatch("[^\n]+") do n = n + 1 end
    assert.equal(4, n)   -- every good event still decided
  end)

  it("lists suppressions with filters, as CSV and JSON", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    run("replay - --json --db " .. sh_quote(db), events)
    local out, _, code = run("suppressions --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    assert.equal(0, code)
    assert.matches("angry@example.org%s+complaint", out)
    assert.matches("gone@example.com%s+hard%s+userunknown", out)
    assert.matches("2 suppressed %(1 hard, 1 complaint%)", out)
    out = run("suppressions --cause hard --csv --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    assert.equal("address,cause,reason,since,expires,attempts,bounces,last_event,last_at\r\n"
      .. "gone@example.com,hard,userunknown,2026-11-20T00:00:00Z,,0,1,hard,2026-11-20T00:00:00Z\r\n", out)
    out = run("suppressions --domain example.org --json --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    local j = cjson.decode(out)
    assert.equal("angry@example.org", j.rcpt)
    assert.equal("complaint", j.cause)
    local _, err
    _, err, code = run("suppressions --cause bogus --db " .. sh_quote(db))
    assert.equal(2, code)
    assert.matches("unknown cause 'bogus'", err)
  end)

  it("imports an ESP suppression export, reporting the rows it cannot read", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    local csv = dir .. "/export.csv"
    local f = assert(io.open(csv, "w"))
    f:write('Email,Reason,Created At\r\n',
      'hb@example.com,Hard bounce,2024-01-02T03:04:05Z\r\n',
      'smtp@example.com,"550 5.1.1 <smtp@example.com>: Recipient address rejected: User unknown, sorry",1700000000\r\n',
      'spam@example.com,Spam complaint,2024-03-01\r\n',
      'unsub@example.com,Unsubscribed,2024-03-01 10:00:00+02:00\r\n',
      'man@example.com,ManualSuppression,\r\n',
      'not-an-address,Hard bounce,\r\n',
      'late@example.com,Hard bounce,yesterday\r\n')
    f:close()
    local out, err, code = run("import " .. sh_quote(csv) .. " --at " .. T0 .. " --db " .. sh_quote(db))
    assert.equal(1, code)
    assert.matches("imported 5 suppressions %(2 hard, 1 complaint, 1 unsubscribe, 1 manual%)", out)
    assert.matches("export.csv:7: invalid address 'not%-an%-address'", err)
    assert.matches("export.csv:8: not a date: 'yesterday'", err)
    out = run("suppressions --json --at " .. T0 .. " --db " .. sh_quote(db))
    local by = {}
    for line in out:gmatch("[^\n]+") do
      local j = cjson.decode(line)
      by[j.rcpt] = j
    end
    assert.equal("hard", by["hb@example.com"].cause)
    assert.equal(1704164645, by["hb@example.com"].since)
    assert.equal("userunknown", by["smtp@example.com"].reason)
    assert.equal(1700000000, by["smtp@example.com"].since)
    assert.equal("complaint", by["spam@example.com"].cause)
    assert.equal("unsubscribe", by["unsub@example.com"].cause)
    assert.equal(1709280000, by["unsub@example.com"].since)   -- 08:00 UTC
    assert.equal("manual", by["man@example.com"].cause)
    assert.equal(T0, by["man@example.com"].since)
    assert.is_nil(by["late@example.com"])
  end)

  it("says what is wrong with a file it cannot import", function()
    local csv = dir .. "/nohead.csv"
    local f = assert(io.open(csv, "w"))
    f:write("who,when\na@example.com,2024-01-01\n")
    f:close()
    local _, err, code = run("import " .. sh_quote(csv) .. " --db :memory:")
    assert.equal(2, code)
    assert.matches("nohead.csv:1: no address column", err)
    _, err, code = run("import " .. sh_quote(dir .. "/missing.csv") .. " --db :memory:")
    assert.equal(2, code)
    assert.matches("missing.csv", err)
  end)

  it("fails cleanly when the history file cannot be opened", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    local _, err, code = run("check a@example.com --db " .. sh_quote(dir .. "/no/such/dir/x.db"))
    assert.equal(2, code)
    assert.matches("x.db", err)
  end)
end)
