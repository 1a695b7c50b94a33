-- bounce.store.shdict inside a real nginx (Debian's lua module, LuaJIT): the
-- shared store contract, memory pressure on a tiny zone, and 4 workers
-- recording the same addresses at once without losing an update.
local nginx = require("spec.support.nginx")
local cjson = require("cjson")
local socket = require("socket")

local HTTP = [[
  lua_shared_dict bounce 8m;
  lua_shared_dict tiny 12k;
  lua_shared_dict conc 4m;
  lua_shared_dict ctl 1m;
  lua_shared_dict counts 1m;
  init_by_lua_block {
    package.path = "]] .. nginx.root .. [[/?.lua;" .. package.path
    require("bounce")
    require("bounce.store.shdict")
  }
  init_worker_by_lua_block {
    -- Every worker waits for /go, then records EVENTS block events spread
    -- over 100 addresses, in the same order as the other workers.
    local ctl = ngx.shared.ctl
    ngx.timer.at(0, function(premature)
      if premature then return end
      while not ctl:get("go") do
        ngx.sleep(0.01)
        if ngx.worker.exiting() then return end
      end
      local bounce = require("bounce")
      local store = assert(require("bounce.store.shdict").new("conc"))
      local t = assert(bounce.tracker{ store = store, health = false })
      local n = ctl:get("events")
      local failed = 0
      for i = 1, n do
        local d = t:record{ rcpt = "r" .. (i % 100) .. "@example.com", type = "block",
                            reason = "blocked", at = 1780000000 + i }
        if not d then failed = failed + 1 end
      end
      ctl:incr("failed", failed, 0)
      ctl:incr("waits", store:stats().lock_waits, 0)
      ctl:set("pid:" .. ngx.worker.pid(), n)
      ctl:incr("done", 1, 0)
    end)
  }
]]

local SERVER = [[
    default_type application/json;
    location = /contract {
      content_by_lua_block {
        local shdict = require("bounce.store.shdict")
        local n = 0
        local results, failed = require("spec.support.store_contract").run_all(function()
          n = n + 1
          return assert(shdict.new("bounce", { prefix = "case" .. n .. ":" }))
        end)
        ngx.say(require("cjson").encode({ results = results, failed = failed }))
      }
    }
    location = /health_dict {
      content_by_lua_block {
        local shdict = require("bounce.store.shdict")
        local bounce = require("bounce")
        local now = ngx.time()
        local a = assert(shdict.new("bounce", { prefix = "hd:", health_dict = "counts" }))
        local b = assert(shdict.new("bounce", { prefix = "hd:", health_dict = ngx.shared.counts }))
        local ta = bounce.tracker{ store = a, clock = function() return now end }
        local tb = bounce.tracker{ store = b, clock = function() return now end }
        for i = 1, 3 do
          assert(ta:record{ rcpt = "u" .. i .. "@example.org", type = "hard", sender = "s@example.com", at = now })
        end
        assert(ta:flush())
        local bucket = math.floor(now / 3600)
        ngx.say(require("cjson").encode({
          hard = tb:health("sender:s@example.com", now).hard,
          -- the counter bounce.serve's health_dict holds, under its own name
          raw = ngx.shared.counts:get("hard|sender:s@example.com|" .. bucket),
          in_store_dict = ngx.shared.bounce:get("hd:h:hard|sender:s@example.com|" .. bucket) or false,
        }))
      }
    }
    location = /missing {
      content_by_lua_block {
        local s, err = require("bounce.store.shdict").new("nope")
        ngx.say(require("cjson").encode({ store = s ~= nil, err = err }))
      }
    }
    location = /tiny {
      content_by_lua_block {
        local shdict = require("bounce.store.shdict")
        local rec = require("spec.support.store_contract").record
        local evict = ngx.var.arg_evict == "1"
        ngx.shared.tiny:flush_all()
        ngx.shared.tiny:flush_expired()
        local s = assert(shdict.new("tiny", { evict = evict }))
        local written, err = {}, nil
        for i = 1, 2000 do
          local k = "user" .. i .. "@example.com"
          local ok, e = s:cas(k, nil, rec(i % 60000 + 1))
          if ok == nil then err = e break end
          written[#written + 1] = k
        end
        local intact = 0
        for i, k in ipairs(written) do
          if s:get(k) == rec(i % 60000 + 1) then intact = intact + 1 end
        end
        ngx.say(require("cjson").encode({ written = #written, err = err, intact = intact,
                                          evictions = s:stats().evictions }))
      }
    }
    location = /go {
      content_by_lua_block {
        local ctl = ngx.shared.ctl
        ctl:set("events", tonumber(ngx.var.arg_n))
        ctl:set("go", true)
        ngx.say("{}")
      }
    }
    location = /status {
      content_by_lua_block {
        local ctl = ngx.shared.ctl
        local pids = 0
        for _, k in ipairs(ctl:get_keys(0)) do
          if k:find("^pid:") then pids = pids + 1 end
        end
        ngx.say(require("cjson").encode({ done = ctl:get("done") or 0, pids = pids,
          failed = ctl:get("failed") or 0, waits = ctl:get("waits") or 0 }))
      }
    }
    location = /counts {
      content_by_lua_block {
        local store = assert(require("bounce.store.shdict").new("conc"))
        local t = assert(require("bounce").tracker{ store = store, health = false })
        local out = {}
        for i = 0, 99 do
          local r = t:get("r" .. i .. "@example.com")
          out[#out + 1] = r and r.bounces or -1
        end
        ngx.say(require("cjson").encode({ bounces = out, records = store:count() }))
      }
    }
]]

local usable, why = nginx.available()

describe("store.shdict in nginx", function()
  if not usable then
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local srv
  setup(function()
    srv = nginx.start{ http = HTTP, server = SERVER, workers = 4 }
  end)
  teardown(function()
    if srv then srv:stop() end
  end)

  local function get_json(path)
    local status, body = srv:get(path)
    assert.equals(200, status, body .. srv:error_log())
    return cjson.decode(body)
  end

  it("passes the shared store contract", function()
    local r = get_json("/contract")
    local failures = {}
    for _, c in ipairs(r.results) do
      if not c.ok then failures[#failures + 1] = c.name .. ": " .. tostring(c.err) end
    end
    assert.same({}, failures)
    assert.equals(0, r.failed)
    assert.is_true(#r.results >= 12)
    -- the store shares health: its cases ran, none was skipped
    local health = 0
    for _, c in ipairs(r.results) do
      if c.name:find("^health counts") then
        health = health + 1
        assert.is_nil(c.note, c.name)
      end
    end
    assert.equals(2, health)
  end)

  it("keeps health counts in health_dict under bounce serve's names, shared by stores", function()
    local r = get_json("/health_dict")
    assert.equals(3, r.hard)
    assert.equals(3, r.raw)
    assert.is_false(r.in_store_dict)
  end)

  it("says which dict is missing", function()
    local r = get_json("/missing")
    assert.is_false(r.store)
    assert.matches("no shared dict 'nope'", r.err)
    assert.matches("lua_shared_dict nope", r.err)
  end)

  it("refuses a write when the zone is full and keeps every record written before", function()
    local r = get_json("/tiny?evict=0")
    assert.is_true(r.written > 5)
    assert.matches("no memory", r.err)
    assert.matches("raise lua_shared_dict", r.err)
    assert.equals(r.written, r.intact)
    assert.equals(0, r.evictions)
  end)

  it("with evict = true, counts and logs each write that pushed records out", function()
    local r = get_json("/tiny?evict=1")
    assert.equals(2000, r.written)
    assert.is_true(r.evictions > 0)
    assert.is_true(r.intact < r.written)
    assert.matches("shdict 'tiny' is full: writing user%d+@example.com evicted older records",
      srv:error_log())
  end)

  it("loses no update when 4 workers record 20,000 events for the same 100 addresses", function()
    get_json("/go?n=5000")
    local st
    local deadline = socket.gettime() + 120
    repeat
      socket.sleep(0.1)
      st = get_json("/status")
    until st.done == 4 or socket.gettime() > deadline
    assert.equals(4, st.done)
    assert.equals(4, st.pids)      -- four distinct workers did the work
    assert.equals(0, st.failed)
    local c = get_json("/counts")
    assert.equals(100, c.records)
    for i = 1, 100 do
      assert.equals(200, c.bounces[i], "address r" .. (i - 1))
    end
  end)

  it("logs no Lua error", function()
    local log = srv:error_log()
    assert.not_matches("%[error%]", log)
    assert.not_matches("lua entry thread aborted", log)
  end)
end)
