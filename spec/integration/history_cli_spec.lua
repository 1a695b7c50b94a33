-- The commands that keep their history in a SQLite file: replay, check,
-- suppressions, import (bin/bounce, run as a user would).
local cjson = require("cjson")

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local ROOT = (function()
  local p = io.popen("pwd")
  local d = p:read("*l")
  p:close()
  return d
end)()

-- Runs bin/bounce; returns stdout, stderr, exit code. opts.cwd: the folder
-- to run it in; opts.env: VAR=value ... before the command.
local function run(args, input, opts)
  opts = opts or {}
  local out, err = os.tmpname(), os.tmpname()
  local cmd = (opts.cwd and "cd " .. sh_quote(opts.cwd) .. " && " or "") .. (opts.env or "")
    .. " lua5.4 " .. ROOT .. "/bin/bounce " .. args .. " >" .. out .. " 2>" .. err
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
    local _, err, code = run("replay - --json --create --db " .. sh_quote(db), events)
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
    local out, err, code = run("replay - --json --create --db " .. sh_quote(db), input)
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
    run("replay - --json --create --db " .. sh_quote(db), events)
    local out, _, code = run("suppressions --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    assert.equal(0, code)
    assert.matches("angry@example.org%s+complaint", out)
    assert.matches("gone@example.com%s+hard%s+userunknown", out)
    assert.matches("2 suppressed %(1 hard, 1 complaint%)", out)
    out = run("suppressions --cause hard --csv --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    assert.equal("rcpt,state,cause,reason,since,expires_at,attempts,bounces,blocks,last_event,last_at\r\n"
      .. "gone@example.com,suppressed,hard,userunknown,2026-11-20T00:00:00Z,,0,1,0,hard,2026-11-20T00:00:00Z\r\n",
      out)
    out = run("suppressions --domain example.org --json --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    local j = cjson.decode(out)
    assert.equal("angry@example.org", j.rcpt)
    assert.equal("complaint", j.cause)
    local _, err
    _, err, code = run("suppressions --cause bogus --db " .. sh_quote(db))
    assert.equal(2, code)
    assert.matches("unknown cause 'bogus'", err)
  end)

  it("names corrupt records on stderr with a count and exits 1 until they are released", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    if not os.execute("command -v sqlite3 >/dev/null") then
      return pending("the sqlite3 shell is not installed (Debian package sqlite3)")
    end
    run("replay - --json --create --db " .. sh_quote(db), events)
    local s = assert(require("bounce.store.sqlite").new(db))
    local good = s:get("gone@example.com")
    s:close()
    local bad = good:sub(1, 9) .. string.char((good:byte(10) + 1) % 256) .. good:sub(11)
    local hex = bad:gsub(".", function(c) return string.format("%02x", c:byte()) end)
    -- written behind the store's back, as disk or another program would
    assert(os.execute("sqlite3 " .. sh_quote(db) .. " \"update records set record = X'" .. hex
      .. "' where address = 'gone@example.com'; insert into records (address, record) values "
      .. "('idn@xn--bcher-kva.de', X'6a756e6b')\""))
    local out, err, code = run("suppressions --at " .. (T0 + 100) .. " --db " .. sh_quote(db))
    assert.equal(1, code)
    assert.matches("1 suppressed %(1 complaint%)", out)   -- the corrupt one is in no list
    assert.matches("gone@example.com: corrupt record for gone@example.com: checksum mismatch", err)
    assert.matches("idn@xn%-%-bcher%-kva.de: corrupt record for idn@xn%-%-bcher%-kva.de", err)
    assert.matches("2 corrupt records, in no list above", err)
    code = select(3, run("suppressions --domains --db " .. sh_quote(db)))
    assert.equal(1, code)
    -- an event on the corrupt record applies to a fresh one; the bytes stay aside
    run("replay - --json --db " .. sh_quote(db),
      '{"rcpt":"gone@example.com","type":"hard","at":' .. (T0 + 200) .. '}')
    out, err, code = run("suppressions --at " .. (T0 + 300) .. " --db " .. sh_quote(db))
    assert.equal(1, code)
    assert.matches("gone@example.com%s+hard", out)
    assert.matches("@@corrupt:gone@example.com: corrupt record set aside from gone@example.com", err)
    local t = require("bounce").tracker{ store = assert(require("bounce.store.sqlite").new(db)),
                                          health = false }
    assert(t:release("gone@example.com", T0 + 400))
    assert(t:release("idn@bücher.de", T0 + 400))
    out, err, code = run("suppressions --at " .. (T0 + 500) .. " --db " .. sh_quote(db))
    assert.equal(0, code)
    assert.equal("", err)
    assert.matches("1 suppressed", out)
  end)

  it("lists dead domains with --domains and checks their addresses as dead_domain", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    local x = dir .. "/dead.db"
    run("replay - --json --create --db " .. sh_quote(x), table.concat({
      '{"rcpt":"a@lapsed.example","reply":"550 5.1.2 <a@lapsed.example>: Recipient address rejected: '
        .. 'Domain not found","at":' .. T0 .. '}',
      '{"rcpt":"b@flaky.example","reply":"450 4.1.2 <b@flaky.example>: Recipient address rejected: '
        .. 'Domain not found","at":' .. T0 .. '}',
    }, "\n") .. "\n")
    local out, _, code = run("check c@lapsed.example c@flaky.example --at " .. (T0 + 10) .. " --db " .. sh_quote(x))
    assert.equal(1, code)
    assert.matches("c@lapsed.example%s+dead_domain%s+dead domain lapsed%.example since 2026%-11%-20 until "
      .. "2026%-12%-20: no such domain %(hostunknown%)", out)
    assert.matches("c@flaky.example%s+allowed", out)
    out, _, code = run("suppressions --domains --at " .. (T0 + 10) .. " --db " .. sh_quote(x))
    assert.equal(0, code)
    assert.matches("^lapsed%.example%s+hostunknown%s+since 2026%-11%-20  until 2026%-12%-20\n1 dead domain\n$", out)
    out = run("suppressions --domains --csv --at " .. (T0 + 10) .. " --db " .. sh_quote(x))
    assert.equal("domain,reason,since,expires_at,why\r\nlapsed.example,hostunknown,2026-11-20T00:00:00Z,"
      .. "2026-12-20T00:00:00Z,dead domain lapsed.example since 2026-11-20 until 2026-12-20: no such domain "
      .. "(hostunknown)\r\n", out)
    local j = cjson.decode((run("suppressions --domains --json --at " .. (T0 + 10) .. " --db " .. sh_quote(x))))
    assert.same({ "lapsed.example", "hostunknown", T0, T0 + 30 * 86400 }, { j.domain, j.reason, j.since, j.expires_at })
    -- the address list holds the address, not the domain
    out = run("suppressions --csv --at " .. (T0 + 10) .. " --db " .. sh_quote(x))
    assert.matches("^rcpt,[^\n]*\r\na@lapsed%.example,suppressed,hard,hostunknown,[^\n]*\r\n$", out)
    -- after retention.domain
    out = run("suppressions --domains --at " .. (T0 + 30 * 86400) .. " --db " .. sh_quote(x))
    assert.equal("0 dead domains\n", out)
    local err
    _, err, code = run("suppressions --domains --cause hard --db " .. sh_quote(x))
    assert.equal(2, code)
    assert.matches("%-%-domains lists dead domains", err)
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
      'late@example.com,Hard bounce,yesterday\r\n',
      'mg@example.com,Hard bounce,"Fri, 03 May 2024 10:00:00 UTC"\r\n',
      'mg2@example.com,Hard bounce,"Fri, 3 May 2024 12:00:00 +0200"\r\n',
      'mg3@example.com,Hard bounce,"3 May 2024 06:00 EDT"\r\n',
      'mg4@example.com,Hard bounce,"Fri, 03 May 2024 10:00:00 GMT (sent)"\r\n')
    f:close()
    local out, err, code = run("import " .. sh_quote(csv) .. " --at " .. T0 .. " --create --db " .. sh_quote(db))
    assert.equal(1, code)   -- one row skipped
    assert.matches("imported 10 suppressions %(7 hard, 1 complaint, 1 unsubscribe, 1 manual%) from "
      .. "[^\n]*export.csv, 1 row skipped, 1 dated %-%-at", out)
    assert.matches("export.csv:7: invalid address 'not%-an%-address'", err)
    assert.matches("export.csv:8: warning: not a date: 'yesterday'; dated %-%-at instead", err)
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
    assert.equal(T0, by["late@example.com"].since)    -- kept, dated --at
    for _, a in ipairs({ "mg", "mg2", "mg3", "mg4" }) do
      assert.equal(1714730400, by[a .. "@example.com"].since, a)   -- RFC 5322 dates, as Mailgun exports
    end
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

  describe("fails closed on a missing history", function()
    local function files()
      local p = io.popen("ls -A " .. sh_quote(dir))
      local l = p:read("*a")
      p:close()
      return l
    end

    it("check answers nothing from a history that does not exist, and creates none", function()
      -- a pre-send hook run from another folder: ./bounce.db is not there
      local out, err, code = run("check ann@example.org", nil, { cwd = dir })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("no history at bounce.db %(the file does not exist", err)
      for _, args in ipairs({ "check ann@example.org --db typo.db", "check - --db typo.db --json",
                              "suppressions --db typo.db", "suppressions --csv" }) do
        out, err, code = run(args, "ann@example.org\n", { cwd = dir })
        assert.equal(2, code, args)
        assert.equal("", out, args)
        assert.matches("no history at", err, 1, true)
      end
      out, err, code = run("check ann@example.org", nil, { cwd = dir, env = "BOUNCE_DB=elsewhere.db" })
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("no history at elsewhere.db", err, 1, true)
      assert.equal("", files())   -- no bounce.db, typo.db, elsewhere.db, nor -wal / -shm
    end)

    it("verify refuses a history named by --db or $BOUNCE_DB that does not exist, before any lookup", function()
      for _, c in ipairs({ { "verify ann@example.org --dns 127.0.0.1:9 --db typo.db" },
                           { "verify ann@example.org --dns 127.0.0.1:9", "BOUNCE_DB=typo.db" } }) do
        local out, err, code = run(c[1], nil, { cwd = dir, env = c[2] })
        assert.equal(2, code, c[1])
        assert.equal("", out, c[1])
        assert.matches("typo.db: no such file", err, 1, true)
      end
      assert.equal("", files())
    end)

    it("check, suppressions, replay and import take an empty file for no history, and leave it empty", function()
      local empty = dir .. "/empty.db"
      assert(io.open(empty, "w")):close()   -- a `touch`, a truncated copy
      local csv = os.tmpname()
      local f = assert(io.open(csv, "w"))
      f:write("email,reason\nann@example.org,hard bounce\n")
      f:close()
      for _, args in ipairs({ "check ann@example.org", "suppressions", "replay -", "import " .. sh_quote(csv) }) do
        local out, err, code = run(args .. " --db " .. sh_quote(empty), "")
        assert.equal(2, code, args)
        assert.equal("", out, args)
        assert.matches("empty.db: an empty file, not a bounce history", err, 1, true)
      end
      os.remove(csv)
      assert.equal("empty.db\n", files())
      f = assert(io.open(empty, "rb"))
      assert.equal("", f:read("*a"))
      f:close()
      os.remove(empty)
    end)

    it("check without an address is a usage error", function()
      local _, err, code = run("check --db :memory:")
      assert.equal(2, code)
      assert.matches("no address given", err)
    end)

    it("check takes --sender and --campaign; on its own it has no health to judge them by", function()
      local out, err, code = run("check ann@example.org --sender news@example.com --campaign c1 --db :memory: --json")
      assert.equal(0, code, err)
      local r = cjson.decode(out)
      assert.same({ true, "active: no history" }, { r.allowed, r.why })
      assert.is_nil(r.level)
      out, err, code = run("check ann@example.org --campaign= --db :memory:")
      assert.equal("", out)
      assert.equal(2, code)
      assert.matches("--campaign expects a name", err, 1, true)
      out = run("check --help")
      assert.matches("--sender ADDR", out, 1, true)
    end)

    it("replay and import start a history only with --create, and only once the input is read", function()
      local x = dir .. "/x.db"
      local _, err, code = run("replay --db " .. sh_quote(x) .. " " .. sh_quote(dir .. "/nonexistent"))
      assert.equal(2, code)
      assert.matches("nonexistent: No such file", err)
      _, err, code = run("replay --create --db " .. sh_quote(x) .. " " .. sh_quote(dir .. "/nonexistent"))
      assert.equal(2, code)
      assert.matches("nonexistent: No such file", err)
      assert.equal("", files())   -- x.db was not created before the input was found missing
      _, err, code = run("replay - --db " .. sh_quote(x), events)
      assert.equal(2, code)
      assert.matches("no history at " .. x .. " %(the file does not exist; %-%-create starts a new one", err)
      local csv = dir .. "/export.csv"
      local f = assert(io.open(csv, "w"))
      f:write("email,reason\nann@example.org,hard bounce\n")
      f:close()
      _, err, code = run("import " .. sh_quote(csv) .. " --db " .. sh_quote(x))
      assert.equal(2, code)
      assert.matches("no history at", err, 1, true)
      _, err, code = run("import " .. sh_quote(dir .. "/missing.csv") .. " --create --db " .. sh_quote(x))
      assert.equal(2, code)
      assert.matches("missing.csv", err, 1, true)
      assert.equal("export.csv\n", files())
      local out
      out, _, code = run("import " .. sh_quote(csv) .. " --dry-run --db " .. sh_quote(x))   -- needs no file
      assert.equal(0, code)
      assert.matches("would import 1 suppression", out)
      assert.equal("export.csv\n", files())
      if not have_sqlite() then return pending("bounce.sqlite is not built") end
      _, err, code = run("replay - --json --create --db " .. sh_quote(x), events)
      assert.equal(0, code, err)
      out, _, code = run("check gone@example.com --at " .. (T0 + 1) .. " --db " .. sh_quote(x))
      assert.equal(1, code)
      assert.matches("suppressed since 2026%-11%-20", out)
      _, err, code = run("import " .. sh_quote(csv) .. " --db " .. sh_quote(x))   -- it exists now
      assert.equal(0, code, err)
    end)
  end)

  describe("options", function()
    local commands = { "check a@example.org --db :memory:", "replay - --db :memory:", "suppressions --db :memory:",
                       "import x.csv --db :memory:", "parse -", "classify x", "rules", "reasons", "demo",
                       "serve --token 0123456789", "verify a@example.org --db :memory:", "policyd --db :memory:",
                       "intake --db :memory:" }

    it("refuses an unknown option in every command, doing nothing else", function()
      for _, c in ipairs(commands) do
        local name = c:match("^%a+")
        local out, err, code = run(c .. " --bogus", "")
        assert.equal(name == "intake" and 64 or 2, code, c)   -- intake: sysexits.h's EX_USAGE, for Postfix
        assert.equal("", out, c)
        assert.matches("unknown option %-%-bogus", err, 1, false)
        assert.matches(name == "classify" and "bounce classify %-%-help" or ".", err)
      end
      local out, err, code = run("classify --bogus x")
      assert.equal(2, code)
      assert.equal("", out)   -- "x" is not classified
      assert.equal("bounce: unknown option --bogus (bounce classify --help)\n", err)
      for _, c in ipairs({ "--version x", "help check x" }) do
        out, err, code = run(c)
        assert.equal(2, code, c)
        assert.equal("", out, c)
        assert.matches("unexpected argument 'x'", err, 1, true)
      end
      out, err, code = run("suppressions --csv=yes --db :memory:")
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("%-%-csv takes no value", err)
    end)

    it("shows each command's own help for COMMAND --help and help COMMAND", function()
      for _, c in ipairs(commands) do
        local name = c:match("^%a+")
        local out, _, code = run(name .. " --help")
        assert.equal(0, code, name)
        assert.matches("^usage: bounce " .. name, out)
        local again = run("help " .. name)
        assert.equal(out, again, name)
      end
    end)
  end)

  describe("replay's tables", function()
    it("says no sends were recorded instead of rates over 100%", function()
      local out, _, code = run("replay - --db :memory:", table.concat({
        '{"rcpt":"a@example.com","type":"complaint","at":' .. T0 .. '}',
        '{"rcpt":"b@example.com","type":"hard","at":' .. T0 .. '}',
        '{"rcpt":"c@example.com","type":"delivered","at":' .. T0 .. '}' }, "\n") .. "\n")
      assert.equal(0, code)
      assert.not_matches("%d%d%d%.%d%d%%", out)
      assert.matches("no sends were recorded", out)
      assert.matches("domain:example.com%s+2%s+1%s+0%s+1%s+0%s+1%s+0%s+%-%s+%-%s+%(no sends recorded%)", out)
      out = run("replay - --db :memory:", '{"rcpt":"a@example.com","type":"sent","count":100,"at":' .. T0
        .. '}\n{"rcpt":"b@example.com","type":"complaint","at":' .. T0 .. '}\n')
      assert.not_matches("no sends were recorded", out)
      assert.matches("domain:example.com%s+100%s+0%s+0%s+0%s+0%s+1%s+0%s+0%.00%%%s+1%.00%%", out)
    end)

    it("lines columns up for long addresses and scopes", function()
      local long = string.rep("a", 40) .. "@" .. string.rep("b", 30) .. ".example.com"
      local out = run("replay - --db :memory:", table.concat({
        '{"rcpt":"' .. long .. '","type":"hard","at":' .. T0 .. ',"campaign":"' .. string.rep("c", 50) .. '"}',
        '{"rcpt":"x@example.com","type":"complaint","at":' .. T0 .. ',"campaign":"c1"}' }, "\n") .. "\n")
      -- each table: the column after the address starts at the same place on every row
      local function starts(pattern)
        local cols = {}
        for line in out:gmatch("[^\n]+") do
          local a, b = line:find(pattern)
          if a then cols[#cols + 1] = b end
        end
        return cols
      end
      local decisions = starts("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d %S+%s+")
      assert.equal(2, #decisions)
      assert.equal(decisions[1], decisions[2])
      local suppressed = starts("^  %S+@%S+%s+")
      assert.equal(2, #suppressed)
      assert.equal(suppressed[1], suppressed[2])
      local health = starts("^  %a+:%S+%s+")
      assert.is_true(#health >= 4)
      for i = 2, #health do assert.equal(health[1], health[i]) end
      local check = run("check --db :memory: " .. long .. " x@example.com")
      local c = {}
      for line in check:gmatch("[^\n]+") do c[#c + 1] = select(2, line:find("^%S+%s+")) end
      assert.equal(c[1], c[2])
    end)
  end)

  it("fails cleanly when the history file cannot be opened", function()
    if not have_sqlite() then return pending("bounce.sqlite is not built") end
    local _, err, code = run("check a@example.com --db " .. sh_quote(dir .. "/no/such/dir/x.db"))
    assert.equal(2, code)
    assert.matches("x.db", err)
  end)
end)
