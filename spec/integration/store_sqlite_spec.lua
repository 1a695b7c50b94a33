-- The SQLite store (bounce.store.sqlite) against real files in a temporary
-- directory: the shared store contract, reopening, the schema as the
-- sqlite3 shell shows it, migration, the indexes of the suppression list
-- and of expiry (what they return, and the query plans that use them), bad
-- input, batches, several processes writing at once, and a writer killed in
-- the middle of a batch.
local bounce = require("bounce")
local core = require("bounce.core")
local csqlite = require("bounce.sqlite")
local sqlite = require("bounce.store.sqlite")
local contract = require("spec.support.store_contract")

local T0 = 1780000000

-- A suppression (hard bounce at T0) ending at `expires` (nil: forever).
local function suppressed(expires)
  return core.encode_record{ state = "suppressed", cause = "hard", reason = "userunknown",
    last_event = "hard", bounces = 1, last_at = T0, since = T0, expires_at = expires }
end

-- Every key, blob of an iterator, in its order.
local function collect(iter)
  local keys, blobs = {}, {}
  for k, b in iter do
    keys[#keys + 1] = k
    blobs[k] = b
  end
  return keys, blobs
end

-- The interpreter running these specs, for the writer processes, with the
-- same module paths.
local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local function have(prog) return run("command -v " .. prog .. " || true"):match("%S") ~= nil end
local HAVE_SQLITE3 = have("sqlite3")

local dir
local function tmp(name) return dir .. "/" .. name end

local function sql(path, query)
  return run("sqlite3 -batch " .. sh_quote(path) .. " " .. sh_quote(query))
end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

-- A Lua program run as a separate process (in this directory), with this
-- run's module paths.
local function lua_cmd(script, ...)
  local args = {}
  for i, a in ipairs({ ... }) do args[i] = sh_quote(tostring(a)) end
  return "env LUA_PATH=" .. sh_quote(package.path)
    .. " LUA_CPATH=" .. sh_quote(package.cpath) .. " " .. LUA .. " " .. sh_quote(script) .. " "
    .. table.concat(args, " ")
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("store.sqlite", function()
  setup(function()
    dir = run("mktemp -d /tmp/bounce-sqlite-spec.XXXXXX"):match("%S+")
    assert(dir and dir:find("^/tmp/bounce%-sqlite%-spec"), "mktemp failed")
  end)
  teardown(function()
    if dir then run("chattr -i " .. sh_quote(dir) .. "/* 2>/dev/null; rm -rf " .. sh_quote(dir)) end
  end)

  describe("the store contract", function()
    local n, open = 0, {}
    local function make_store()
      n = n + 1
      local s = assert(sqlite.new(tmp("contract" .. n .. ".db")))
      open[#open + 1] = s
      return s
    end
    after_each(function()
      for i, s in ipairs(open) do s:close(); open[i] = nil end
    end)
    for _, case in ipairs(contract.cases) do
      it(case.name, function() case.run(make_store) end)
    end
  end)

  it("is what bounce.store.sqlite(path, opts) returns", function()
    local s = assert(bounce.store.sqlite(tmp("ctor.db"), { busy_timeout = 100, synchronous = "full" }))
    assert.is_true(s:cas("a@example.com", nil, contract.record(1)))
    assert.equal(1, s:count())
    assert.equal(sqlite._VERSION, core._VERSION)
    s:close()
  end)

  it("keeps everything when the file is reopened", function()
    local path = tmp("reopen.db")
    local s = assert(sqlite.new(path))
    local t = bounce.tracker{ store = s, health = false }
    assert(t:record{ rcpt = "gone@example.com", reply = "550 5.1.1 user unknown", at = T0 })
    for i = 1, 2 do
      assert(t:record{ rcpt = "full@example.com", type = "soft", reason = "mailboxfull", at = T0 + i })
    end
    local before = { gone = t:get("gone@example.com"), full = t:get("full@example.com") }
    s:close()
    local s2 = assert(sqlite.new(path))
    local t2 = bounce.tracker{ store = s2, health = false }
    assert.equal(2, s2:count())
    assert.same(before.gone, t2:get("gone@example.com"))
    assert.same(before.full, t2:get("full@example.com"))
    assert.equal(2, t2:get("full@example.com").attempts)
    assert.is_false((t2:check("gone@example.com", T0 + 60)))
    s2:close()
  end)

  it("refuses a record that fails its check, naming the address, and writes nothing", function()
    local s = assert(sqlite.new(tmp("refuse.db")))
    local good = contract.record(1)
    assert.is_true(s:cas("a@example.com", nil, good))
    local bad = good:sub(1, 9) .. string.char((good:byte(10) + 1) % 256) .. good:sub(11)
    local ok, err = s:cas("a@example.com", good, bad)
    assert.is_nil(ok)
    assert.matches("a@example.com", err, 1, true)
    assert.matches("checksum mismatch", err, 1, true)
    ok, err = s:cas("new@example.com", nil, "not a record")
    assert.is_nil(ok)
    assert.matches("new@example.com: not a bounce record", err, 1, true)
    assert.equal(good, s:get("a@example.com"))
    assert.is_nil(s:get("new@example.com"))
    s:close()
  end)

  describe("bad input", function()
    it("raises on wrong argument types", function()
      assert.has_error(function() sqlite.new(42) end,
        "bad argument #1 to 'sqlite' (string expected, got number)")
      assert.has_error(function() sqlite.new(tmp("x.db"), "fast") end,
        "bad argument #2 to 'sqlite' (table expected, got string)")
      assert.has_error(function() sqlite.new(tmp("x.db"), { busy_timeout = -1 }) end,
        "bad argument #2 to 'sqlite' (field 'busy_timeout': milliseconds 0..2^31-1 expected, got -1)")
      assert.has_error(function() sqlite.new(tmp("x.db"), { synchronous = "sometimes" }) end,
        "bad argument #2 to 'sqlite' (field 'synchronous': 'normal', 'full', 'off' or 'extra' "
        .. "expected, got sometimes)")
      local s = assert(sqlite.new(tmp("types.db")))
      assert.has_error(function() s:get(42) end, "bad argument #1 to 'get' (string expected, got number)")
      assert.has_error(function() s:cas("a@example.com", nil, 42) end,
        "bad argument #3 to 'cas' (string expected, got number)")
      assert.has_error(function() s:cas("a@example.com", {}, nil) end,
        "bad argument #2 to 'cas' (string expected, got table)")
      assert.has_error(function() s:cas("a@example.com", nil, nil, "1h") end,
        "bad argument #4 to 'cas' (number expected, got string)")
      assert.has_error(function() s:batch("not a function") end,
        "bad argument #1 to 'batch' (function expected, got string)")
      assert.has_error(function() s:page(nil, 10, "bouncing") end,
        "bad argument #3 to 'page' (invalid option 'bouncing')")
      assert.has_error(function() s:page_expired(T0, nil, "a@example.com", 10) end,
        "bad argument #2 to 'page_expired' (the expiry and the key of a row, or two nils, expected)")
      s:close()
      s:close()   -- closing twice is harmless
      assert.has_error(function() s:get("a@example.com") end, "calling 'get' on bad self (store is closed)")
    end)

    it("returns nil, err naming the path for a path that cannot be opened", function()
      local path = tmp("no/such/dir/x.db")
      local s, err = sqlite.new(path)
      assert.is_nil(s)
      assert.equal("cannot open " .. path .. ": unable to open database file", err)
      s, err = sqlite.new(dir)
      assert.is_nil(s)
      assert.matches("cannot open " .. dir, err, 1, true)
    end)

    it("returns nil, err naming the path for a file that is not a database", function()
      local path = tmp("notes.txt")
      local text = "Dear diary, today 550 5.1.1 came back.\n" .. string.rep("x", 200) .. "\n"
      write_file(path, text)
      local s, err = sqlite.new(path)
      assert.is_nil(s)
      assert.equal("cannot open " .. path .. ": file is not a database", err)
      local f = assert(io.open(path, "rb"))
      assert.equal(text, f:read("*a"))   -- left as it was
      f:close()
    end)

    it("returns nil, err naming the path for a read-only file", function()
      local path = tmp("readonly.db")
      local s = assert(sqlite.new(path))
      s:close()
      run("chmod 0444 " .. sh_quote(path))
      -- root ignores permission bits; the immutable attribute stops it too
      if run("id -u"):match("^0") and run("chattr +i " .. sh_quote(path) .. " && echo ok")
          :match("ok") == nil then
        pending("running as root on a file system without chattr +i: cannot make a read-only file")
        return
      end
      local s2, err = sqlite.new(path)
      run("chattr -i " .. sh_quote(path) .. " 2>/dev/null")
      assert.is_nil(s2)
      assert.equal("cannot open " .. path .. ": the file is read-only (the store writes to it)", err)
    end)
  end)

  describe("schema", function()
    it("is readable with the sqlite3 shell", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("schema.db")
      local s = assert(sqlite.new(path))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "Gone@Example.com", reply = "550 5.1.1 user unknown", at = T0 })
      assert(t:record{ rcpt = "full@example.com", type = "soft", reason = "mailboxfull", at = T0 + 60 })
      assert(t:record{ rcpt = "held@example.com", type = "block", reason = "blocked", at = T0 + 120 })
      s:close()
      assert.equal("4\nwal\n", sql(path, "pragma user_version; pragma journal_mode"))
      assert.equal(table.concat({
        "full@example.com|bouncing||mailboxfull||1|0|1|soft",
        "gone@example.com|suppressed|hard|userunknown|" .. T0 .. "|0|0|1|hard",
        "held@example.com|active||blocked||0|1|1|block", "" }, "\n"),
        sql(path, "select address, state, cause, reason, since, attempts, blocks, bounces, last_event "
          .. "from records order by address"))
      -- the columns agree with the record for times too
      local r = bounce.tracker{ store = assert(sqlite.new(path)), health = false }:get("full@example.com")
      assert.equal(("%d|%d|%d|\n"):format(r.streak_start, r.retry_at, r.last_at),
        sql(path, "select streak_start, retry_at, last_at, expires from records "
          .. "where address = 'full@example.com'"))
    end)

    it("migrates a version 1 file (address, record) and keeps a corrupt row as it was", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("v1.db")
      local good = contract.record(2)
      local bad = good:sub(1, 9) .. "\255" .. good:sub(11)
      assert.equal("", sql(path, "CREATE TABLE records (address TEXT PRIMARY KEY NOT NULL, "
        .. "record BLOB NOT NULL) WITHOUT ROWID; PRAGMA user_version = 1; "
        .. "INSERT INTO records VALUES ('a@example.com', X'" .. hex(good) .. "'), "
        .. "('bad@example.com', X'" .. hex(bad) .. "');"))
      local s = assert(sqlite.new(path))
      assert.equal(good, s:get("a@example.com"))
      assert.equal(bad, s:get("bad@example.com"))
      assert.equal("4\n", sql(path, "pragma user_version"))
      assert.equal("a@example.com|bouncing|mailboxfull|2|2\nbad@example.com||||\n",
        sql(path, "select address, state, reason, attempts, bounces from records order by address"))
      local t = bounce.tracker{ store = s, health = false }
      assert.equal(2, t:get("a@example.com").attempts)
      local rec, err = t:get("bad@example.com")
      assert.is_nil(rec)
      assert.equal("corrupt record for bad@example.com: checksum mismatch (record corrupt)", err)
      -- the corrupt row is among those scan_expired gives, for expire to report it
      assert.same({ "bad@example.com" }, (collect(s:scan_expired(T0))))
      s:close()
    end)

    it("refuses a file whose schema is newer than this build reads", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("future.db")
      local s = assert(sqlite.new(path))
      s:close()
      sql(path, "PRAGMA user_version = 99")
      local s2, err = sqlite.new(path)
      assert.is_nil(s2)
      assert.equal("cannot open " .. path .. ": schema version 99 is newer than this build of bounce "
        .. "reads (4)", err)
    end)

    it("returns a row corrupted outside bounce as it is; the tracker sets it aside", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("corrupt.db")
      local s = assert(sqlite.new(path))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "bad@example.com", type = "soft", at = T0 })
      local good = s:get("bad@example.com")
      local bad = good:sub(1, 9) .. string.char((good:byte(10) + 1) % 256) .. good:sub(11)
      sql(path, "update records set record = X'" .. hex(bad) .. "' where address = 'bad@example.com'")
      assert.equal(bad, s:get("bad@example.com"))
      local d = assert(t:record{ rcpt = "bad@example.com", type = "soft", at = T0 + 60 })
      assert.is_true(d.corrupt)
      assert.equal(1, d.attempts)   -- a fresh record
      assert.equal(bad, s:get("@@corrupt:bad@example.com"))
      -- the bytes set aside: a row with NULL columns; other keys still refuse them
      assert.equal("@@corrupt:bad@example.com|", sql(path,
        "select address, state from records where address like '@@%'"):gsub("\n$", ""))
      local ok, err = s:cas("other@example.com", nil, bad)
      assert.is_nil(ok)
      assert.matches("refusing to write a bad record for other@example.com", err, 1, true)
      s:close()
    end)
  end)

  describe("indexes", function()
    -- The records of scan() that pass keep(blob), in scan's (key) order.
    local function scan_where(s, keep)
      local keys, blobs = {}, {}
      for k, b in s:scan() do
        if keep(b) then keys[#keys + 1] = k; blobs[k] = b end
      end
      return keys, blobs
    end
    local function is_suppressed(b) return core.decode_record(b).state == "suppressed" end

    -- 1,000 bouncing records and 600 suppressions among them (keys
    -- interleaved): 200 ending at each of T0+100, T0+200, T0+300, so that
    -- equal expiries straddle pages of 256; 50 more forever.
    local function fill(s)
      assert(s:batch(function()
        for i = 1, 1000 do assert(s:cas(("u%04d@example.com"):format(i), nil, contract.record(i % 50 + 1))) end
        for i = 1, 600 do
          assert(s:cas(("u%04da@example.com"):format(i), nil, suppressed(T0 + 100 * (i % 3 + 1))))
        end
        for i = 1, 50 do assert(s:cas(("u%04db@example.com"):format(i), nil, suppressed(nil))) end
      end))
    end

    it("scan_suppressed gives every suppressed record and no other, in key order", function()
      local s = assert(sqlite.new(tmp("suppressed.db")))
      fill(s)
      local keys, blobs = collect(s:scan_suppressed())
      local want_keys, want_blobs = scan_where(s, is_suppressed)
      assert.equal(650, #keys)
      assert.same(want_keys, keys)
      assert.same(want_blobs, blobs)
      s:close()
    end)

    it("scan_expired(at) gives the suppressions ended at or before at, soonest first", function()
      local s = assert(sqlite.new(tmp("expired.db")))
      fill(s)
      for _, at in ipairs({ T0 + 99, T0 + 100, T0 + 250, T0 + 300, T0 + 10 ^ 6 }) do
        local keys, blobs = collect(s:scan_expired(at))
        -- what t:expire computes from each record
        local _, want = scan_where(s, function(b)
          local e = core.record_expiry(b)
          return e and e > 0 and at >= e
        end)
        assert.same(want, blobs)
        local prev = { -1, "" }
        for _, k in ipairs(keys) do
          local cur = { core.decode_record(blobs[k]).expires_at, k }
          assert.is_true(cur[1] > prev[1] or (cur[1] == prev[1] and cur[2] > prev[2]), k)
          prev = cur
        end
        assert.equal(({ [T0 + 99] = 0, [T0 + 100] = 200, [T0 + 250] = 400 })[at] or 600, #keys)
      end
      assert.has_error(function() s:scan_expired("now") end,
        "bad argument #1 to 'scan_expired' (unix seconds expected, got string)")
      assert.has_error(function() s:scan_expired(T0 + 0.5) end,
        "bad argument #1 to 'scan_expired' (unix seconds expected, got " .. tostring(T0 + 0.5) .. ")")
      s:close()
    end)

    it("let the loop delete the record it was just given", function()
      local s = assert(sqlite.new(tmp("delete.db")))
      fill(s)
      local n = 0
      for k, b in s:scan_expired(T0 + 200) do
        assert.is_true(s:cas(k, b, nil))
        n = n + 1
      end
      assert.equal(400, n)
      assert.same({}, (collect(s:scan_expired(T0 + 200))))
      n = 0
      for k, b in s:scan_suppressed() do
        assert.is_true(s:cas(k, b, nil))
        n = n + 1
      end
      assert.equal(250, n)
      assert.equal(1000, s:count())
      assert.same({}, (collect(s:scan_suppressed())))
      s:close()
    end)

    it("follow every write of the tracker: suppress, release, a new expiry", function()
      local s = assert(sqlite.new(tmp("follow.db")))
      local t = bounce.tracker{ store = s, health = false, policy = { retention = { hard = "1d" } } }
      local function listed()
        return { suppressed = (collect(s:scan_suppressed())),
                 expired = (collect(s:scan_expired(T0 + 86400 * 400))) }
      end
      assert(t:record{ rcpt = "a@example.com", reply = "550 5.1.1 user unknown", at = T0 })
      assert(t:record{ rcpt = "b@example.com", type = "soft", at = T0 })
      assert.same({ suppressed = { "a@example.com" }, expired = { "a@example.com" } }, listed())
      assert.same({}, (collect(s:scan_expired(T0 + 86400 - 1))))
      assert.same({ "a@example.com" }, (collect(s:scan_expired(T0 + 86400))))
      assert(t:release("a@example.com", T0 + 60))
      assert.same({ suppressed = {}, expired = {} }, listed())
      assert(t:suppress("b@example.com", T0 + 120))   -- manual: forever by default
      assert.same({ suppressed = { "b@example.com" }, expired = {} }, listed())
      assert(t:record{ rcpt = "a@example.com", reply = "550 5.1.1 user unknown", at = T0 + 180 })
      assert.same({ "a@example.com" }, (collect(s:scan_expired(T0 + 180 + 86400))))
      s:close()
      if HAVE_SQLITE3 then
        -- the indexes hold exactly the rows the table says they should
        assert.equal("ok\n", sql(tmp("follow.db"), "pragma integrity_check"))
        assert.equal("a@example.com|suppressed|" .. (T0 + 180 + 86400) .. "\nb@example.com|suppressed|\n",
          sql(tmp("follow.db"), "select address, state, expires from records order by address"))
      end
    end)

    -- The plan of each page query, one line per step, from the sqlite3 shell.
    local function plan(path, name)
      return sql(path, "EXPLAIN QUERY PLAN " .. csqlite.queries[name])
    end
    local USES = { suppressed = "records_suppressed", suppressed_after = "records_suppressed",
                   expired = "records_expires", unchecked = "records_unchecked",
                   unchecked_after = "records_unchecked" }

    -- Each page is a seek in a partial index that holds the key and the
    -- record: never a scan of the table, never a sort, never a read of the
    -- table itself (a covering index).
    it("are what the suppression list and expire read: SEARCH ... USING INDEX, no SCAN", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("plan.db")
      local s = assert(sqlite.new(path))
      fill(s)
      s:close()
      local function check()
        for name, index in pairs(USES) do
          local p = plan(path, name)
          assert.matches("SEARCH records USING COVERING INDEX " .. index .. " %(", p, 1)
          assert.is_nil(p:find("SCAN", 1, true), name .. ": " .. p)
          assert.is_nil(p:find("TEMP B-TREE", 1, true), name .. ": " .. p)
        end
        -- the cursor of expire is a seek, not a filter
        assert.matches("records_expires ((expires,address)>(?,?) AND expires<?)", plan(path, "expired"), 1, true)
        assert.matches("records_suppressed (state=? AND address>?)", plan(path, "suppressed_after"), 1, true)
      end
      check()
      -- and still once the file has statistics (ANALYZE, or PRAGMA optimize)
      assert.equal("", sql(path, "ANALYZE"))
      check()
      -- the full scan, for contrast, is what they replace
      assert.matches("SCAN records", plan(path, "scan"), 1, true)
    end)

    -- Version 2, as the code before version 3 created it.
    local SCHEMA_V2 = [[
CREATE TABLE records (
  address      TEXT PRIMARY KEY NOT NULL, -- normalised recipient address
  state        TEXT,     -- active | bouncing | suppressed
  cause        TEXT,     -- when suppressed: hard | soft_exhausted | complaint | unsubscribe | manual
  reason       TEXT,     -- reason of the last change: userunknown, mailboxfull, ... or undefined
  since        INTEGER,  -- suppressed since (unix seconds)
  expires      INTEGER,  -- suppression ends (NULL: forever, or not suppressed)
  streak_start INTEGER,  -- first failure of the current soft-bounce streak
  attempts     INTEGER,  -- soft bounces in the current streak
  blocks       INTEGER,  -- blocks since the last delivery
  bounces      INTEGER,  -- failures of any kind, ever (saturates at 65535)
  last_event   TEXT,     -- sent | delivered | soft | hard | block | complaint | ...
  last_at      INTEGER,  -- time of the last change
  retry_at     INTEGER,  -- next retry or end of a hold (not suppressed)
  record       BLOB NOT NULL -- the record itself (bounce.core codec): the source of truth
) WITHOUT ROWID;
PRAGMA user_version = 2;
]]
    -- Rows as version 2 wrote them: bouncing, suppressed until T0+100,
    -- suppressed forever.
    local V2_ROWS = {
      { "a@example.com", contract.record(3),
        "'bouncing', NULL, 'mailboxfull', NULL, NULL, 1700000000, 3, 0, 3, 'soft', 1700000003, 1700000603" },
      { "b@example.com", suppressed(T0 + 100),
        "'suppressed', 'hard', 'userunknown', " .. T0 .. ", " .. (T0 + 100) .. ", NULL, 0, 0, 1, 'hard', "
        .. T0 .. ", NULL" },
      { "c@example.com", suppressed(nil),
        "'suppressed', 'hard', 'userunknown', " .. T0 .. ", NULL, NULL, 0, 0, 1, 'hard', " .. T0 .. ", NULL" },
    }
    local function v2_file(path, extra)
      local ins = {}
      for i, r in ipairs(V2_ROWS) do
        ins[i] = "('" .. r[1] .. "', " .. r[3] .. ", X'" .. hex(r[2]) .. "')"
      end
      assert.equal("", sql(path, SCHEMA_V2 .. "INSERT INTO records (address, state, cause, reason, since, "
        .. "expires, streak_start, attempts, blocks, bounces, last_event, last_at, retry_at, record) VALUES "
        .. table.concat(ins, ", ") .. ";" .. (extra or "")))
    end

    it("are added to a version 2 file on open, which keeps every row", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("v2.db")
      v2_file(path)
      local before = sql(path, "select * from records order by address")
      local s = assert(sqlite.new(path))
      assert.equal(3, s:count())
      for _, r in ipairs(V2_ROWS) do assert.equal(r[2], s:get(r[1])) end
      assert.equal(before, sql(path, "select * from records order by address"))
      assert.equal("4\n", sql(path, "pragma user_version"))
      assert.equal("records_expires\nrecords_suppressed\nrecords_unchecked\n",
        sql(path, "select name from sqlite_master where type = 'index' and tbl_name = 'records' "
          .. "and sql is not null order by name"))
      assert.equal("ok\n", sql(path, "pragma integrity_check"))
      assert.same({ "b@example.com", "c@example.com" }, (collect(s:scan_suppressed())))
      assert.same({ "b@example.com" }, (collect(s:scan_expired(T0 + 100))))
      assert.matches("SEARCH records USING COVERING INDEX records_expires", plan(path, "expired"), 1, true)
      assert.matches("SEARCH records USING COVERING INDEX records_suppressed", plan(path, "suppressed"), 1, true)
      local t = bounce.tracker{ store = s, health = false }
      assert.equal(3, t:get("a@example.com").attempts)
      assert.is_false((t:check("c@example.com", T0 + 10 ^ 6)))
      s:close()
      -- opened again: nothing more to do
      s = assert(sqlite.new(path))
      assert.equal(3, s:count())
      s:close()
    end)

    it("are added in one transaction: a migration that fails leaves the file as it was", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("v2-clash.db")
      -- someone's own index already has the name of the second one
      v2_file(path, "CREATE INDEX records_expires ON records (last_at);")
      local s, err = sqlite.new(path)
      assert.is_nil(s)
      assert.equal("cannot open " .. path .. ": index records_expires already exists (upgrading its "
        .. "schema from version 2 to 4; the file was left as it was)", err)
      assert.equal("2\n", sql(path, "pragma user_version"))
      assert.equal("records_expires\n", sql(path, "select name from sqlite_master where type = 'index' "
        .. "and sql is not null"))
      assert.equal("3\n", sql(path, "select count(*) from records"))
    end)
  end)

  describe("health counts", function()
    it("are added to a version 3 file on open, and shared by trackers in two connections", function()
      if not HAVE_SQLITE3 then pending("the sqlite3 shell is not installed (Debian package sqlite3)") return end
      local path = tmp("v3.db")
      local s = assert(sqlite.new(path))
      local t = bounce.tracker{ store = s, health = false }
      assert(t:record{ rcpt = "a@example.com", type = "hard", at = T0 })
      s:close()
      -- back to version 3, as the code before version 4 left it
      assert.equal("", sql(path, "DROP TABLE health; PRAGMA user_version = 3;"))
      local w, r = assert(sqlite.new(path)), assert(sqlite.new(path))
      assert.equal("4\n", sql(path, "pragma user_version"))
      assert.equal("suppressed\n", sql(path, "select state from records"))
      local clock = function() return T0 end
      local tw = bounce.tracker{ store = w, clock = clock }
      local tr = bounce.tracker{ store = r, clock = clock }
      for i = 1, 3 do assert(tw:record{ rcpt = "u" .. i .. "@example.com", type = "soft", sender = "s@x", at = T0 }) end
      assert(tw:record{ rcpt = "v@example.com", type = "complaint", sender = "s@x", at = T0 + 3600 })
      assert.is_true(tw:close())
      local h = tr:health("sender:s@x", T0 + 3600)
      assert.equal(3, h.soft)
      assert.equal(1, h.complaint)
      -- one row per scope and bucket, readable in the shell
      local b = math.floor(T0 / 3600)
      assert.equal(("sender:s@x|%d|3|0\nsender:s@x|%d|0|1\n"):format(b, b + 1),
        sql(path, "select scope, bucket, soft, complaint from health where scope = 'sender:s@x' order by bucket"))
      w:close()
      r:close()
    end)

    it("are dropped once no window reads them", function()
      local s = assert(sqlite.new(tmp("prune.db")))
      local b = math.floor(T0 / 3600)
      assert.is_true(s:health_add({ ["sender:old@x"] = { [b] = { 1, 0, 0, 0, 0, 0, 0 } } }, 3600))
      assert.is_true(s:health_add({ ["sender:new@x"] = { [b + 24] = { 1, 0, 0, 0, 0, 0, 0 } } }, 3600))
      assert.equal(1, s:health_read("sender:old@x", b, b)[b][1])
      assert.is_true(s:health_add({ ["sender:new@x"] = { [b + 25] = { 1, 0, 0, 0, 0, 0, 0 } } }, 3600))
      assert.same({}, s:health_read("sender:old@x", b, b))
      assert.equal(1, s:health_read("sender:new@x", b, b + 30)[b + 25][1])
      s:close()
    end)
  end)

  describe("batches", function()
    it("are seen by other connections only when committed, and rolled back as a whole", function()
      local path = tmp("batch.db")
      local w, r = assert(sqlite.new(path)), assert(sqlite.new(path))
      local t = bounce.tracker{ store = w, health = false }
      assert.is_true(w:begin())
      assert.is_true(w:in_batch())
      for i = 1, 10 do assert(t:record{ rcpt = "u" .. i .. "@example.com", type = "hard", at = T0 }) end
      assert.equal(10, w:count())
      assert.equal(0, r:count())              -- the reader does not wait, and sees the old state
      assert.is_true(w:commit())
      assert.equal(10, r:count())
      assert.is_true(w:begin())
      assert(t:record{ rcpt = "u11@example.com", type = "hard", at = T0 })
      assert.is_true(w:rollback())
      assert.equal(10, r:count())
      assert.is_false(w:in_batch())
      local ok, err = w:commit()
      assert.is_nil(ok)
      assert.matches("no batch is open", err, 1, true)
      w:close()
      r:close()
    end)

    it("batch(fn) commits what fn did, or rolls back and raises fn's error", function()
      local s = assert(sqlite.new(tmp("batchfn.db")))
      local t = bounce.tracker{ store = s, health = false }
      local ok, a, b = s:batch(function(x)
        assert(t:record{ rcpt = "a@example.com", type = "hard", at = T0 })
        return x, "done"
      end, 7)
      assert.same({ true, 7, "done" }, { ok, a, b })
      assert.has_error(function()
        s:batch(function()
          assert(t:record{ rcpt = "b@example.com", type = "hard", at = T0 })
          error("out of coffee", 0)
        end)
      end, "out of coffee")
      assert.is_false(s:in_batch())
      assert.equal(1, s:count())
      assert.is_nil(s:get("b@example.com"))
      assert.is_true(s:begin())
      local ok2, err = s:begin()
      assert.is_nil(ok2)
      assert.matches("a batch is already open", err, 1, true)
      assert.is_true(s:rollback())
      s:close()
    end)

    it("a second writer waits for the batch and gives up after busy_timeout with nil, err", function()
      local path = tmp("busy.db")
      local w = assert(sqlite.new(path))
      local other = assert(sqlite.new(path, { busy_timeout = 50 }))
      assert.is_true(w:begin())
      assert.is_true(w:cas("a@example.com", nil, contract.record(1)))
      local ok, err = other:cas("b@example.com", nil, contract.record(2))
      assert.is_nil(ok)
      assert.equal(path .. ": database is locked", err)
      assert.is_true(w:commit())
      assert.is_true(other:cas("b@example.com", nil, contract.record(2)))
      assert.equal(2, w:count())
      w:close()
      other:close()
    end)
  end)

  describe("several processes on one file", function()
    local WRITER = [[
local path, id, n, batch = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local bounce = require("bounce")
local s = assert(bounce.store.sqlite(path))
local t = assert(bounce.tracker{ store = s, health = false })
local i = 0
while i < n do
  if batch > 0 then assert(s:begin()) end
  for _ = 1, math.max(batch, 1) do
    local a = "user" .. ((i + id * 25) % 100) .. "@example.com"
    local d, err = t:record{ rcpt = a, type = "block", reason = "blocked", at = 1780000000 + i }
    if not d then io.stderr:write("writer " .. id .. ": " .. err .. "\n") os.exit(1) end
    i = i + 1
  end
  if batch > 0 then assert(s:commit()) end
end
s:close()
print("writer " .. id .. " done")
]]

    it("open one new file at the same moment: every process gets the store", function()
      -- making a new file WAL takes a lock SQLite does not always wait for
      local script = tmp("opener.lua")
      write_file(script, [[
local s, err = require("bounce").store.sqlite(arg[1])
print(s and "opened" or err)
]])
      for round = 1, 8 do
        -- eight processes started by one shell, so that their opens overlap
        local path = tmp("race" .. round .. ".db")
        local p = assert(io.popen("for i in 1 2 3 4 5 6 7 8; do " .. lua_cmd(script, path)
          .. " 2>&1 & done; wait"))
        local out = p:read("*a")
        p:close()
        assert.equal(("opened\n"):rep(8), out)
      end
    end)

    it("lose no update: 4 writers x 5,000 events over the same 100 addresses", function()
      local script = tmp("writer.lua")
      write_file(script, WRITER)
      local path = tmp("shared.db")
      -- two writers commit each event, two commit batches of 50
      local procs = {}
      for id = 1, 4 do
        procs[id] = assert(io.popen(lua_cmd(script, path, id, 5000, id <= 2 and 0 or 50) .. " 2>&1"))
      end
      for id = 1, 4 do
        local out = procs[id]:read("*a")
        procs[id]:close()
        assert.equal("writer " .. id .. " done\n", out)
      end
      local s = assert(sqlite.new(path))
      local t = bounce.tracker{ store = s, health = false }
      assert.equal(100, s:count())
      for a = 0, 99 do
        local r = t:get("user" .. a .. "@example.com")
        assert.equal(200, r.bounces)
        assert.equal(200, r.blocks)
      end
      s:close()
    end)

    local ACKER = [[
-- Records block events in batches of 50 and prints "ack ADDRESS" for each
-- once its batch is committed. With a fifo argument, it stops in the middle
-- of batch 5 (opening the fifo blocks until the test kills it).
local path, fifo = arg[1], arg[2]
local bounce = require("bounce")
local s = assert(bounce.store.sqlite(path))
local t = assert(bounce.tracker{ store = s, health = false })
local i, b = 0, 0
while true do
  b = b + 1
  assert(s:begin())
  local acked = {}
  for j = 1, 50 do
    local a = "user" .. (i * 7 % 100) .. "@example.com"
    assert(t:record{ rcpt = a, type = "block", at = 1780000000 + i })
    acked[j] = a
    i = i + 1
    if fifo ~= "" and b == 5 and j == 25 then
      print("mid")
      io.stdout:flush()
      io.open(fifo, "r")
    end
  end
  assert(s:commit())
  for _, a in ipairs(acked) do io.stdout:write("ack ", a, "\n") end
  io.stdout:flush()
end
]]

    -- Starts the acker, kills it with SIGKILL when stop(line, acks) says so,
    -- and returns the acknowledged events per address.
    local function kill_acker(path, fifo, stop)
      local script = tmp("acker.lua")
      write_file(script, ACKER)
      local errfile = tmp("acker.err")
      -- the shell's own "Killed" notice goes to /dev/null, the writer's errors to errfile
      local p = assert(io.popen("exec 2>/dev/null; sh -c " .. sh_quote("echo $$; exec "
        .. lua_cmd(script, path, fifo) .. " 2>" .. sh_quote(errfile))))
      local pid = assert(tonumber(p:read("*l")), "no pid")
      local acked, n, killed = {}, 0, false
      for line in p:lines() do
        local a = line:match("^ack (user%d+@example%.com)$")
        if a then acked[a] = (acked[a] or 0) + 1; n = n + 1 end
        if not killed and stop(line, n) then
          assert.equal("", run("kill -KILL " .. pid))
          killed = true
        end
      end
      p:close()
      local ef = io.open(errfile, "rb")
      local errs = ef and ef:read("*a") or ""
      if ef then ef:close() end
      assert.is_true(killed, "the writer ended before it was killed: " .. errs)
      return acked, n
    end

    local function opens_cleanly(path)
      if HAVE_SQLITE3 then assert.equal("ok\n", sql(path, "pragma integrity_check")) end
      local s = assert(sqlite.new(path))
      return s, bounce.tracker{ store = s, health = false }
    end

    it("a writer killed in the middle of a batch leaves every acknowledged event, and no other", function()
      local path, fifo = tmp("killed.db"), tmp("hold.fifo")
      assert.equal("", run("mkfifo " .. sh_quote(fifo)))
      local acked, n = kill_acker(path, fifo, function(line) return line == "mid" end)
      assert.equal(200, n)   -- four batches committed before the fifth was cut
      local s, t = opens_cleanly(path)
      local total = 0
      for a = 0, 99 do
        local rcpt = "user" .. a .. "@example.com"
        local r = t:get(rcpt)
        assert.equal(acked[rcpt] or 0, r and r.bounces or 0, rcpt)
        total = total + (r and r.bounces or 0)
      end
      assert.equal(200, total)
      s:close()
    end)

    it("a writer killed at full speed leaves every acknowledged event", function()
      local path = tmp("killed2.db")
      local acked, n = kill_acker(path, "", function(_, acks) return acks >= 3000 end)
      local s, t = opens_cleanly(path)
      local total = 0
      for a = 0, 99 do
        local rcpt = "user" .. a .. "@example.com"
        local r = t:get(rcpt)
        local stored = r and r.bounces or 0
        assert.is_true(stored >= (acked[rcpt] or 0), rcpt .. ": acknowledged event lost")
        total = total + stored
      end
      -- at most one batch committed whose acknowledgements were not printed yet
      assert.is_true(total >= n and total <= n + 50, ("stored %d, acknowledged %d"):format(total, n))
      s:close()
    end)
  end)
end)
