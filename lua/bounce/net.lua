-- bounce.net: sockets and light threads for bounce.dns and bounce.verify,
-- one API over two worlds.
--
--   local net = require("bounce.net")
--   local results = net.run(function()
--     return net.map(names, 32, function(name) return resolve(name) end)
--   end)
--
-- In OpenResty (any phase with cosockets: rewrite, access, content,
-- ngx.timer) the sockets are ngx.socket cosockets and the threads
-- ngx.thread light threads: nothing blocks the worker.
-- In plain Lua they are LuaSocket sockets made non-blocking, and the threads
-- coroutines that net.run schedules: a thread that waits on a socket yields,
-- and socket.select wakes it when the socket is ready or its timeout is
-- reached, so lookups and SMTP sessions run side by side in one process.
-- Outside net.run the sockets simply block, with their timeouts.
--
-- Timeouts are in seconds everywhere (cosockets take milliseconds; the
-- conversion is here). Errors are nil, message: "timeout", "connection
-- refused", "closed", as LuaSocket and cosockets word them.
-- Threads must not yield across pcall in plain Lua 5.1 (PUC-Rio cannot):
-- code running inside net.run calls no pcall around socket operations.

local ngx = rawget(_G, "ngx")

local type, error, setmetatable, select, tostring, ipairs, pairs, unpack =
  type, error, setmetatable, select, tostring, ipairs, pairs, table.unpack or rawget(_G, "unpack")
local co_create, co_resume, co_yield, co_running, co_status =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.running, coroutine.status
local floor, huge = math.floor, math.huge

local _M = require("bounce.version").lazy({})

local cosockets = ngx ~= nil and type(ngx.socket) == "table" and type(ngx.thread) == "table"
_M.cosockets = cosockets

local socket
if not cosockets then socket = require("socket") end

local function pack(...) return { n = select("#", ...), ... } end

------------------------------------------------------------------------------
-- OpenResty
------------------------------------------------------------------------------

if cosockets then
  local semaphore = require("ngx.semaphore")

  local function ms(sec) return floor(sec * 1000 + 0.5) end

  local C = {}
  C.__index = C
  function C:settimeout(sec) self.s:settimeout(ms(sec)) end
  function C:connect(host, port) return self.s:connect(host, port) end
  function C:send(data) return self.s:send(data) end
  function C:receive(pattern) return self.s:receive(pattern) end
  function C:receiveany(max) return self.s:receiveany(max) end
  function C:close() return self.s:close() end

  -- syntax: sock, err = net.udp(host, port)   -- a UDP socket bound to that peer
  function _M.udp(host, port)
    local s = ngx.socket.udp()
    local ok, err = s:setpeername(host, port)
    if not ok then return nil, err end
    return setmetatable({ s = s }, C)
  end

  -- syntax: sock = net.tcp()
  function _M.tcp() return setmetatable({ s = ngx.socket.tcp() }, C) end

  function _M.sleep(sec) ngx.sleep(sec) end
  function _M.now() ngx.update_time() return ngx.now() end

  function _M.run(fn, ...) return fn(...) end
  function _M.spawn(fn, ...) return ngx.thread.spawn(fn, ...) end
  function _M.wait(th) return ngx.thread.wait(th) end

  -- syntax: ev = net.event(); ev:wait(sec) -> true or nil, "timeout"; ev:post()
  function _M.event()
    local sema = semaphore.new(0)
    local ev = { done = false }
    function ev.wait(_, sec)
      if ev.done then return true end
      return sema:wait(sec)
    end
    function ev.post()
      ev.done = true
      local waiting = -sema:count()
      if waiting > 0 then sema:post(waiting) end
    end
    return ev
  end
else

------------------------------------------------------------------------------
-- Plain Lua: a scheduler over LuaSocket
------------------------------------------------------------------------------

  local gettime, sselect, ssleep = socket.gettime, socket.select, socket.sleep

  local owner = setmetatable({}, { __mode = "k" })   -- coroutine -> its scheduler

  local function current()
    local co = co_running()
    local s = co and owner[co]
    return s, co
  end

  -- Parks the running thread until raw is ready for mode ("r", "w"), or
  -- until the deadline alone (raw nil). Returns "ready" or "timeout".
  local function park(s, co, raw, mode, deadline)
    s.parked[co] = { raw = raw, mode = mode, deadline = deadline }
    return co_yield()
  end

  local function wake(s, co, why)
    s.parked[co] = nil
    s.ready[#s.ready + 1] = { co = co, value = why }
  end

  local L = {}
  L.__index = L

  function L:settimeout(sec) self.timeout = sec end

  -- Runs op until it stops saying "timeout": parks on the socket meanwhile.
  -- op(partial) returns what the LuaSocket call returned.
  local function retry(self, mode, op)
    local s, co = current()
    if not s then
      self.raw:settimeout(self.timeout)
      return op()
    end
    local deadline = gettime() + self.timeout
    while true do
      local a, err, partial = op()
      if a ~= nil or err ~= "timeout" then return a, err, partial end
      self.partial = partial
      if gettime() >= deadline or park(s, co, self.raw, mode, deadline) == "timeout" then
        return nil, "timeout", partial
      end
    end
  end

  function L:connect(host, port)
    if self.raw then return nil, "already connected" end
    local raw, cerr = (host:find(":", 1, true) and socket.tcp6 or socket.tcp)()
    if not raw then return nil, cerr end
    self.raw = raw
    local s = current()
    if not s then
      raw:settimeout(self.timeout)
      return raw:connect(host, port)
    end
    raw:settimeout(0)
    local ok, err = raw:connect(host, port)
    if ok then return true end
    if err ~= "timeout" and err ~= "Operation already in progress" then return nil, err end
    local first = true
    return retry(self, "w", function()
      if first then first = false return nil, "timeout" end
      local ok2, err2 = raw:connect(host, port)
      if ok2 or err2 == "already connected" then return true end
      return nil, err2
    end)
  end

  function L:send(data)
    local raw, start = self.raw, 1
    if not raw then return nil, "not connected" end
    if current() then raw:settimeout(0) end
    return retry(self, "w", function()
      local last, err, sent = raw:send(data, start)
      if last then return true end
      if sent then start = sent + 1 end
      return nil, err
    end)
  end

  -- pattern: "*l" (a line, without its end), a byte count, or nil for one
  -- UDP datagram.
  function L:receive(pattern)
    local raw = self.raw
    if not raw then return nil, "not connected" end
    if current() then raw:settimeout(0) end
    local prefix = ""
    return retry(self, "r", function()
      if self.udp then return raw:receive() end
      local got, err, partial = raw:receive(pattern, prefix)
      if got then return got end
      if partial then prefix = partial end
      if err ~= "timeout" then return nil, err, prefix end
      return nil, err
    end)
  end

  -- syntax: data, err = sock:receiveany(max)
  -- What has arrived, 1..max bytes, as soon as there is some (so a caller
  -- can bound a line it assembles itself); nil, "timeout" or "closed".
  function L:receiveany(max)
    local raw = self.raw
    if not raw then return nil, "not connected" end
    raw:settimeout(0)
    local s, co = current()
    local deadline = gettime() + self.timeout
    while true do
      local data, err, partial = raw:receive(max)
      if data then return data end
      if partial and #partial > 0 then return partial end
      if err ~= "timeout" then return nil, err end
      local left = deadline - gettime()
      if left <= 0 then return nil, "timeout" end
      if s then
        if park(s, co, raw, "r", deadline) == "timeout" then return nil, "timeout" end
      else
        local r = sselect({ raw }, nil, left)
        if not r or #r == 0 then return nil, "timeout" end
      end
    end
  end

  function L:close()
    if self.raw then return self.raw:close() end
  end

  local function wrap(raw, udp) return setmetatable({ raw = raw, timeout = 5, udp = udp }, L) end

  function _M.udp(host, port)
    local raw, err = (host:find(":", 1, true) and socket.udp6 or socket.udp)()
    if not raw then return nil, err end
    local ok
    ok, err = raw:setpeername(host, port)
    if not ok then raw:close() return nil, err end
    return wrap(raw, true)
  end

  -- the raw socket is made by connect, IPv4 or IPv6 by the address
  function _M.tcp() return wrap(nil, false) end

  _M.now = gettime

  function _M.sleep(sec)
    local s, co = current()
    if not s then return ssleep(sec) end
    park(s, co, nil, nil, gettime() + sec)
  end

  -- One step of a thread: resume it with value, and account for its end.
  local function step(s, co, value)
    local r = pack(co_resume(co, value))
    if co_status(co) ~= "dead" then return end
    local th = s.threads[co]
    s.threads[co] = nil
    owner[co] = nil
    th.done = true
    if r[1] then
      th.results = r
    else
      th.results = { n = 2, false, r[2] }
    end
    for _, w in ipairs(th.waiters) do s.ready[#s.ready + 1] = { co = w } end
    th.waiters = {}
  end

  -- Waits until some parked thread can go on, and lines it up.
  local function poll(s)
    local rt, wt, byraw = {}, {}, {}
    local now, next_deadline = gettime(), huge
    for co, p in pairs(s.parked) do
      if p.deadline <= now then
        wake(s, co, "timeout")
      else
        if p.deadline < next_deadline then next_deadline = p.deadline end
        if p.raw then
          byraw[p.raw] = co
          if p.mode == "r" then rt[#rt + 1] = p.raw else wt[#wt + 1] = p.raw end
        end
      end
    end
    if #s.ready > 0 then return true end
    if next_deadline == huge then return false end
    local wait = next_deadline - now
    if #rt == 0 and #wt == 0 then
      ssleep(wait)
      return true
    end
    local r, w = sselect(rt, wt, wait)
    for _, list in ipairs({ r or {}, w or {} }) do
      for _, raw in ipairs(list) do
        local co = byraw[raw]
        if co and s.parked[co] then wake(s, co, "ready") end
      end
    end
    return true
  end

  local function new_thread(s, fn, ...)
    local args = pack(...)
    local co = co_create(function() return fn(unpack(args, 1, args.n)) end)
    owner[co] = s
    local th = { co = co, waiters = {}, done = false }
    s.threads[co] = th
    s.ready[#s.ready + 1] = { co = co }
    return th
  end

  -- syntax: ... = net.run(fn, ...)
  -- Runs fn(...) as the first thread of a scheduler and returns its results
  -- (raises its error). Inside a scheduler already, calls fn directly.
  function _M.run(fn, ...)
    if current() then return fn(...) end
    local s = { ready = {}, parked = {}, threads = {} }
    local main = new_thread(s, fn, ...)
    while not main.done do
      while #s.ready > 0 do
        local list = s.ready
        s.ready = {}
        for _, e in ipairs(list) do
          if co_status(e.co) == "suspended" then step(s, e.co, e.value) end
        end
      end
      if not main.done and not poll(s) then
        error("bounce.net: every thread is waiting and none can wake", 2)
      end
    end
    local r = main.results
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end

  -- syntax: th = net.spawn(fn, ...)   -- inside net.run
  function _M.spawn(fn, ...)
    local s = current()
    if not s then error("bounce.net: spawn outside net.run", 2) end
    return new_thread(s, fn, ...)
  end

  -- syntax: ok, ... = net.wait(th)   -- true and fn's results, or false, err
  function _M.wait(th)
    if not th.done then
      local s, co = current()
      if not s then error("bounce.net: wait outside net.run", 2) end
      th.waiters[#th.waiters + 1] = co
      co_yield()
    end
    local r = th.results
    return unpack(r, 1, r.n)
  end

  function _M.event()
    local ev = { done = false, waiting = {} }
    function ev.wait(_, sec)
      if ev.done then return true end
      local s, co = current()
      if not s then return nil, "timeout" end
      ev.waiting[co] = true
      local why = park(s, co, nil, nil, gettime() + (sec or 60))
      ev.waiting[co] = nil
      if ev.done then return true end
      return nil, why == "timeout" and "timeout" or why
    end
    function ev.post()
      ev.done = true
      local s = current()
      for co in pairs(ev.waiting) do
        local sc = owner[co]
        if sc and sc.parked[co] then wake(sc, co, "posted") end
      end
      ev.waiting = {}
      return s
    end
    return ev
  end
end

-- syntax: results = net.map(list, n, fn)
-- fn(item, i) for every item, at most n at a time; results[i] is fn's first
-- result (or nil, with errors[i] its error). Inside net.run or OpenResty.
function _M.map(list, n, fn)
  local results, errors, nexti = {}, {}, 1
  local count = #list
  local function worker()
    while nexti <= count do
      local i = nexti
      nexti = i + 1
      results[i] = fn(list[i], i)
    end
  end
  if count == 0 then return results, errors end
  if n <= 1 or count == 1 then
    worker()
    return results, errors
  end
  local threads = {}
  for k = 1, (n < count and n or count) do threads[k] = _M.spawn(worker) end
  for _, th in ipairs(threads) do
    local ok, err = _M.wait(th)
    if not ok then errors[#errors + 1] = tostring(err) end
  end
  if errors[1] then error(errors[1], 0) end
  return results, errors
end

return _M
