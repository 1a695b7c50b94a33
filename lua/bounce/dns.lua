-- bounce.dns: a stub resolver for bounce.verify: queries over UDP, again
-- over TCP when the answer is truncated, answers parsed by the C core
-- (bounce.core.dns_parse), cached by their TTL.
--
--   local dns = require("bounce.dns")
--   local r = assert(dns.new{ servers = "127.0.0.1:5353" })   -- or /etc/resolv.conf
--   local a, err = r:query("example.org", "MX")   -- a.rcode_name, a.answer, ...
--   local m = r:mx("example.org")                 -- m.status, m.hosts (best first)
--
-- Sockets come from bounce.net: LuaSocket in plain Lua, cosockets in
-- OpenResty. Every query goes out from a new socket (a new source port)
-- with a random id, and an answer counts only if the core says it answers
-- that query (id, question); anything else on the socket is ignored until
-- the attempt's timeout. Answers that cannot be read (compression loops,
-- records cut short, bad RDATA) are a failure of that attempt, never an
-- answer. Concurrent lookups of one name share one query.
--
-- Errors: caller mistakes raise (`bad argument #1 to 'new' (...)`); what
-- the network or the servers do returns nil, message ("DNS: no answer for
-- example.org MX from 127.0.0.1:53 after 3 tries (timeout)").

local core = require("bounce.core")
local net = require("bounce.net")

local type, error, tostring, tonumber, ipairs, pairs, setmetatable, select =
  type, error, tostring, tonumber, ipairs, pairs, setmetatable, select
local floor, random, min = math.floor, math.random, math.min
local sfind, smatch, slower, sbyte, schar, sgsub =
  string.find, string.match, string.lower, string.byte, string.char, string.gsub
local concat, sort = table.concat, table.sort
local io_open = io.open

local dns_query, dns_parse, idn_to_ascii = core.dns_query, core.dns_parse, core.idn_to_ascii

local _M = { _VERSION = core._VERSION }

local DEFAULTS = {
  timeout = 2,          -- seconds per attempt
  retries = 2,          -- attempts after the first
  udp_size = 1232,      -- EDNS0 payload size (the DNS flag day's value)
  cache = 10000,        -- answers kept
  max_ttl = 86400,      -- longest a positive answer is kept
  negative_ttl = 3600,  -- longest a NXDOMAIN or NODATA is kept (RFC 2308: up to 3 h)
  servfail_ttl = 5,     -- how long a SERVFAIL is kept (RFC 2308 7.1)
  concurrency = 64,     -- lookups in flight at once in bulk
}

local function argerr(fname, msg, level)
  error("bad argument #1 to '" .. fname .. "' (" .. msg .. ")", level or 3)
end

------------------------------------------------------------------------------
-- Servers
------------------------------------------------------------------------------

-- syntax: host, port = dns.parse_server("127.0.0.1:5353")
-- HOST, HOST:PORT, [IPv6]:PORT or a bare IPv6 address (port 53); nil, err.
function _M.parse_server(s)
  if type(s) ~= "string" then return nil, "a server as HOST:PORT expected" end
  local host, port = smatch(s, "^%[([%x:%.]+)%]:(%d+)$")
  if not host then host = smatch(s, "^%[([%x:%.]+)%]$") end
  if not host and select(2, sgsub(s, ":", "")) > 1 and smatch(s, "^[%x:%.]+$") then host = s end
  if not host then host, port = smatch(s, "^([%w%.%-]+):(%d+)$") end
  if not host then host = smatch(s, "^([%w%.%-]+)$") end
  port = tonumber(port or 53)
  if not host or not port or port < 1 or port > 65535 then
    return nil, "'" .. s .. "': HOST, HOST:PORT or [IPv6]:PORT expected"
  end
  return host, port
end

-- syntax: conf, err = dns.read_resolv_conf([path])
-- conf.servers ({ "10.0.0.53:53", ... }, at most 3 as libc takes),
-- conf.timeout, conf.attempts when its options say so.
function _M.read_resolv_conf(path)
  path = path or "/etc/resolv.conf"
  local f, err = io_open(path, "r")
  if not f then return nil, err end
  local conf = { servers = {} }
  for line in f:lines() do
    line = sgsub(line, "[#;].*$", "")
    local ns = smatch(line, "^%s*nameserver%s+(%S+)")
    if ns and #conf.servers < 3 then
      ns = sgsub(ns, "%%.*$", "")                  -- a zone index (fe80::1%eth0)
      conf.servers[#conf.servers + 1] = sfind(ns, ":", 1, true) and ("[" .. ns .. "]:53") or (ns .. ":53")
    end
    local opts = smatch(line, "^%s*options%s+(.*)$")
    if opts then
      conf.timeout = tonumber(smatch(opts, "timeout:(%d+)")) or conf.timeout
      conf.attempts = tonumber(smatch(opts, "attempts:(%d+)")) or conf.attempts
    end
  end
  f:close()
  if #conf.servers == 0 then return nil, path .. ": no nameserver line" end
  return conf
end

------------------------------------------------------------------------------
-- The resolver
------------------------------------------------------------------------------

local R = {}
R.__index = R

local function check_number(opts, key, lo, hi)
  local v = opts[key]
  if v == nil then return DEFAULTS[key] end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi then
    argerr("new", "field '" .. key .. "': a number " .. lo .. ".." .. hi .. " expected, got " .. tostring(v), 4)
  end
  return v
end

-- syntax: r, err = dns.new([{ servers = "HOST:PORT" | { ... }, resolv_conf = path,
--   timeout = 2, retries = 2, udp_size = 1232, cache = 10000, concurrency = 64,
--   max_ttl = 86400, negative_ttl = 3600, servfail_ttl = 5, clock = fn }])
-- clock (seconds, default the system's) dates the cache: a test moves it.
-- Without servers, the nameservers of /etc/resolv.conf (and its timeout
-- and attempts options, unless given here).
function _M.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerr("new", "table expected, got " .. type(opts)) end
  local servers = opts.servers
  local self = setmetatable({ servers = {}, cache = {}, ncache = 0, inflight = {}, mx_memo = {}, nmemo = 0 }, R)
  if servers == nil then
    local conf, err = _M.read_resolv_conf(opts.resolv_conf)
    if not conf then return nil, "DNS: no resolver: " .. tostring(err) .. " (give one: --dns HOST:PORT)" end
    servers = conf.servers
    if opts.timeout == nil and conf.timeout then self.timeout = min(conf.timeout, 30) end
    if opts.retries == nil and conf.attempts then self.retries = min(conf.attempts, 5) - 1 end
  elseif type(servers) == "string" then
    servers = { servers }
  elseif type(servers) ~= "table" then
    argerr("new", "field 'servers': HOST:PORT or a list expected, got " .. type(servers))
  end
  for _, s in ipairs(servers) do
    local host, port = _M.parse_server(s)
    if not host then return nil, "DNS: server " .. port end
    self.servers[#self.servers + 1] = { host = host, port = port, name = host .. ":" .. port }
  end
  if #self.servers == 0 then return nil, "DNS: no server given" end
  self.timeout = self.timeout or check_number(opts, "timeout", 0.01, 60)
  self.retries = self.retries or check_number(opts, "retries", 0, 10)
  self.udp_size = check_number(opts, "udp_size", 0, 65535)
  self.max_cache = check_number(opts, "cache", 0, 1e7)
  self.max_ttl = check_number(opts, "max_ttl", 0, 604800)
  self.negative_ttl = check_number(opts, "negative_ttl", 0, 86400)
  self.servfail_ttl = check_number(opts, "servfail_ttl", 0, 3600)
  self.concurrency = check_number(opts, "concurrency", 1, 512)
  if opts.clock ~= nil and type(opts.clock) ~= "function" then
    argerr("new", "field 'clock': function expected, got " .. type(opts.clock))
  end
  self.now = opts.clock or net.now
  self.next_server = 1
  self.stats = { queries = 0, tcp = 0, cache_hits = 0, ignored = 0 }
  return self
end

-- The TTL to keep an answer by: the smallest of its records for a positive
-- one; for NXDOMAIN or NODATA the SOA's (the smaller of its TTL and its
-- minimum, RFC 2308 5); a short one for a server failure.
local function answer_ttl(self, a)
  if a.rcode ~= 0 and a.rcode ~= 3 then return self.servfail_ttl end
  local ttl
  if a.rcode == 0 and #a.answer > 0 then
    for _, rr in ipairs(a.answer) do
      if not ttl or rr.ttl < ttl then ttl = rr.ttl end
    end
    return min(ttl, self.max_ttl)
  end
  for _, rr in ipairs(a.authority) do
    if rr.type == "SOA" then ttl = min(rr.ttl, rr.minimum) end
  end
  return min(ttl or 60, self.negative_ttl)
end

local function cache_put(self, key, a)
  if self.max_cache == 0 then return end
  local ttl = answer_ttl(self, a)
  if ttl <= 0 then return end
  if self.ncache >= self.max_cache then         -- full: drop what expired, then half of the rest
    local now, n = self.now(), 0
    for k, e in pairs(self.cache) do
      if e.expires <= now then self.cache[k] = nil else n = n + 1 end
    end
    if n >= self.max_cache then
      local drop = floor(n / 2)
      for k in pairs(self.cache) do
        if drop <= 0 then break end
        self.cache[k] = nil
        drop = drop - 1
        n = n - 1
      end
    end
    self.ncache = n
  end
  if not self.cache[key] then self.ncache = self.ncache + 1 end
  self.cache[key] = { expires = self.now() + ttl, answer = a }
end

-- One exchange over TCP (RFC 7766): a 2-byte length, then the message.
local function over_tcp(self, srv, query, id, name, qtype)
  local sock, err = net.tcp()
  if not sock then return nil, err end
  sock:settimeout(self.timeout)
  local ok
  ok, err = sock:connect(srv.host, srv.port)
  if not ok then sock:close() return nil, "TCP: " .. tostring(err) end
  local n = #query
  ok, err = sock:send(schar(floor(n / 256), n % 256) .. query)
  if not ok then sock:close() return nil, "TCP: " .. tostring(err) end
  local head
  head, err = sock:receive(2)
  if not head then sock:close() return nil, "TCP: " .. tostring(err) end
  local b1, b2 = sbyte(head, 1, 2)
  local len = b1 * 256 + b2
  if len < 12 then sock:close() return nil, "TCP: a message of " .. len .. " bytes" end
  local msg
  msg, err = sock:receive(len)
  sock:close()
  if not msg then return nil, "TCP: " .. tostring(err) end
  local a, perr = dns_parse(msg, id, name, qtype)
  if not a then return nil, perr end
  return a
end

-- One attempt over UDP at srv: nil, err on a timeout or an unreadable
-- answer; datagrams that are not the answer (another id, another question)
-- are counted and ignored.
local function over_udp(self, srv, query, id, name, qtype)
  local sock, err = net.udp(srv.host, srv.port)
  if not sock then return nil, tostring(err) end
  sock:settimeout(self.timeout)
  local ok
  ok, err = sock:send(query)
  if not ok then sock:close() return nil, tostring(err) end
  local deadline = net.now() + self.timeout
  while true do
    local data
    data, err = sock:receive()
    if not data then sock:close() return nil, tostring(err) end
    local a, perr, kind = dns_parse(data, id, name, qtype)
    if a then sock:close() return a end
    if kind ~= "mismatch" then sock:close() return nil, perr end
    self.stats.ignored = self.stats.ignored + 1
    local left = deadline - net.now()
    if left <= 0 then sock:close() return nil, "timeout" end
    sock:settimeout(left)
  end
end

-- A new query to the servers: attempts rotate over them. SERVFAIL,
-- REFUSED and NOTIMP move on to the next server; FORMERR and BADVERS are
-- asked again without EDNS. The last failure is what is said.
local function exchange(self, name, qtype)
  local tries, last_err, last_answer = self.retries + 1, nil, nil
  local udp_size = self.udp_size
  local nserv = #self.servers
  for _ = 1, tries > nserv and tries or nserv do
    local srv = self.servers[self.next_server]
    self.next_server = self.next_server % nserv + 1
    local id = random(0, 65535)
    local query = dns_query(id, name, qtype, udp_size)
    if not query then return nil, "DNS: not a domain name: '" .. name .. "'" end
    self.stats.queries = self.stats.queries + 1
    local a, err = over_udp(self, srv, query, id, name, qtype)
    if a and a.tc then
      self.stats.tcp = self.stats.tcp + 1
      local full, terr = over_tcp(self, srv, query, id, name, qtype)
      if full then a = full else a, err = nil, "truncated over UDP, and " .. terr end
    end
    if a then
      a.server = srv.name
      local rc = a.rcode_name
      if (rc == "FORMERR" or rc == "BADVERS") and udp_size > 0 then
        udp_size = 0
        last_answer = a
      elseif rc == "NOERROR" or rc == "NXDOMAIN" then
        return a
      else
        last_answer = a
        if nserv == 1 then return a end
      end
    else
      last_err = srv.name .. ": " .. tostring(err)
    end
  end
  if last_answer then return last_answer end
  return nil, "DNS: no answer for " .. name .. " " .. qtype .. " after " .. tries .. " tr"
    .. (tries == 1 and "y" or "ies") .. " (" .. tostring(last_err) .. ")"
end

local function ascii_name(name)
  if sfind(name, "[\128-\255]") then
    local a, err = idn_to_ascii(name)
    if not a then return nil, "DNS: '" .. name .. "': " .. err end
    name = a
  end
  name = slower(sgsub(name, "%.$", ""))
  return name
end

-- syntax: answer, err = r:query(name, qtype)
-- The answer of bounce.core.dns_parse (rcode_name, answer, authority,
-- additional, ...) plus server, from the cache while its TTL runs (do not
-- modify it). A name in Unicode is asked as its A-labels.
function R:query(name, qtype)
  if type(name) ~= "string" then argerr("query", "string expected, got " .. type(name)) end
  qtype = qtype or "A"
  local err
  name, err = ascii_name(name)
  if not name then return nil, err end
  local key = qtype .. " " .. name
  local e = self.cache[key]
  if e then
    if e.expires > self.now() then
      self.stats.cache_hits = self.stats.cache_hits + 1
      return e.answer
    end
    self.cache[key] = nil
    self.ncache = self.ncache - 1
  end
  local flight = self.inflight[key]
  if flight then                                  -- someone asks already: wait for it
    flight.event:wait(self.timeout * (self.retries + 1) * #self.servers + 1)
    if flight.done then return flight.answer, flight.err end
  end
  flight = { event = net.event() }
  self.inflight[key] = flight
  local a
  a, err = net.run(exchange, self, name, qtype)
  if a then cache_put(self, key, a) end
  flight.answer, flight.err, flight.done = a, err, true
  self.inflight[key] = nil
  flight.event:post()
  return a, err
end

-- The records of type qtype that name has in answer a, following CNAMEs
-- inside the answer (at most 8). Returns the list and the last name.
local function chase(a, name, qtype)
  local by = {}
  for _, rr in ipairs(a.answer) do
    local owner = rr.name
    by[owner] = by[owner] or {}
    by[owner][#by[owner] + 1] = rr
  end
  for _ = 1, 8 do
    local list, out, cname = by[name] or {}, {}, nil
    for _, rr in ipairs(list) do
      if rr.type == qtype then out[#out + 1] = rr
      elseif rr.type == "CNAME" then cname = rr.target end
    end
    if #out > 0 or not cname then return out, name end
    name = cname
  end
  return {}, name
end

-- syntax: res, err = r:resolve(name, qtype)
-- res: rcode_name, records (of qtype, CNAMEs followed, also across
-- queries, 8 at most), name (the last of the chain), answer (the last
-- answer). nil, err when no server answered.
function R:resolve(name, qtype)
  if type(name) ~= "string" then argerr("resolve", "string expected, got " .. type(name)) end
  local err
  name, err = ascii_name(name)
  if not name then return nil, err end
  for _ = 1, 8 do
    local a, qerr = self:query(name, qtype)
    if not a then return nil, qerr end
    local recs, last = chase(a, name, qtype)
    if #recs > 0 or a.rcode_name ~= "NOERROR" or last == name then
      return { rcode_name = a.rcode_name, records = recs, name = last, answer = a }
    end
    name = last                                  -- a CNAME whose target the answer left out
  end
  return nil, "DNS: CNAME chain of " .. name .. " longer than 8"
end

-- The addresses of host: from glue (the additional section of the MX
-- answer) when it has some, else A then AAAA queries. Returns the list,
-- or nil and "nxdomain", "nodata", or an error message.
local function host_addresses(self, host, glue)
  local list = glue[host]
  if list and #list > 0 then return list, nil, true end
  local out, worst = {}, nil
  for _, t in ipairs({ "A", "AAAA" }) do
    local res, err = self:resolve(host, t)
    if res and res.rcode_name == "NOERROR" then
      for _, rr in ipairs(res.records) do out[#out + 1] = rr.address end
      if #out > 0 then return out end
      worst = worst or "nodata"
    elseif res and res.rcode_name == "NXDOMAIN" then
      return nil, "nxdomain"
    elseif res then
      worst = "DNS: " .. res.rcode_name .. " for " .. host .. " " .. t
        .. " (from " .. tostring(res.answer.server) .. ")"
    else
      worst = err
    end
  end
  return nil, worst or "nodata"
end

-- The A and AAAA records of an answer's additional section, by name.
local function glue_of(a)
  local glue = {}
  for _, rr in ipairs(a.additional) do
    if rr.type == "A" or rr.type == "AAAA" then
      glue[rr.name] = glue[rr.name] or {}
      glue[rr.name][#glue[rr.name] + 1] = rr.address
    end
  end
  return glue
end

-- What an MX lookup says before any host's address is known: the failure
-- as m, or the hosts (best first; the domain itself when there is no MX).
local function mx_status(domain, res)
  local rc, server = res.rcode_name, tostring(res.answer.server)
  if rc == "NXDOMAIN" then
    return { status = "nxdomain", hosts = {}, why = domain .. " does not exist (NXDOMAIN from " .. server .. ")" }
  elseif rc ~= "NOERROR" then
    return { status = "servfail", hosts = {},
             why = "DNS: " .. rc .. " for " .. domain .. " MX (from " .. server .. ")" }
  end
  local hosts, null = {}, false
  for _, rr in ipairs(res.records) do
    if rr.host == "" then null = true
    else hosts[#hosts + 1] = { host = rr.host, pref = rr.pref } end
  end
  if #hosts == 0 and null then
    return { status = "null_mx", hosts = {}, why = domain .. " accepts no mail (null MX, RFC 7505)" }
  end
  if #hosts == 0 then                             -- RFC 5321 5.1: the domain itself, if it has an address
    return { status = "ok", hosts = { { host = res.name, pref = 0 } }, implicit = true }
  end
  sort(hosts, function(x, y) if x.pref ~= y.pref then return x.pref < y.pref end return x.host < y.host end)
  return { status = "ok", hosts = hosts }
end

-- Resolves m's hosts in order until one has an address (h.addresses);
-- m becomes no_address when none has one, timeout when a lookup failed.
local function mx_addresses(self, domain, m, glue)
  local failure
  for _, h in ipairs(m.hosts) do
    local list, why, from_glue = host_addresses(self, h.host, glue)
    if list then
      h.addresses, h.glue = list, from_glue
      return m
    end
    if why ~= "nxdomain" and why ~= "nodata" then failure = why end
  end
  if failure then return { status = "timeout", hosts = m.hosts, implicit = m.implicit, why = failure } end
  if m.implicit then
    return { status = "no_address", hosts = {}, implicit = true,
             why = domain .. " has no MX and no address (A/AAAA)" }
  end
  local names = {}
  for i, h in ipairs(m.hosts) do names[i] = h.host end
  return { status = "no_address", hosts = m.hosts,
           why = "no MX host of " .. domain .. " has an address (" .. concat(names, ", ") .. ")" }
end

-- syntax: m = r:mx(domain [, { addresses = true }])
-- Where mail for domain goes (RFC 5321 5.1). m.status:
--   "ok"          m.hosts: { { host, pref, addresses }, ... } best first;
--                 m.implicit when there is no MX and the domain's own
--                 address stands in (RFC 5321 5.1)
--   "nxdomain"    the domain does not exist
--   "null_mx"     a null MX (RFC 7505): the domain takes no mail
--   "no_address"  no MX and no A/AAAA, or no MX host has an address
--   "servfail"    a server failure (SERVFAIL, REFUSED, ...)
--   "timeout"     no answer, or none that could be read
-- m.why says it in words. With addresses (the default), MX hosts are
-- resolved in order of preference until one has an address (glue from the
-- answer's additional section first). A result is kept while the answers
-- it was built on are cached (do not modify it).
-- The earliest expiry of the cached answers for keys, or nil when one is
-- not cached (a result built on it cannot be kept).
local function expiry(self, keys)
  local e
  for _, k in ipairs(keys) do
    local c = self.cache[k]
    if not c then return nil end
    if not e or c.expires < e then e = c.expires end
  end
  return e
end

-- The answers an mx() result was built on: the MX query's (and its
-- CNAMEs'), and the address queries of the host that had an address.
local function mx_keys(domain, res, m)
  local keys = { "MX " .. domain }
  if res.name ~= domain then keys[2] = "MX " .. res.name end
  local h = m.hosts and m.hosts[1]
  for _, x in ipairs(m.hosts or {}) do
    if x.addresses then h = x break end
  end
  if m.status == "ok" and h and h.addresses and not h.glue then
    keys[#keys + 1] = "A " .. h.host
    if not (h.addresses[1] or ""):find("^%d+%.") then keys[#keys + 1] = "AAAA " .. h.host end
  end
  return keys
end

function R:mx(domain, o)
  if type(domain) ~= "string" then argerr("mx", "string expected, got " .. type(domain)) end
  local want_addr = not (o and o.addresses == false)
  local name = ascii_name(domain)
  local memo_key = name and (want_addr and "+" or "-") .. name
  local memo = memo_key and self.mx_memo[memo_key]
  if memo and memo.expires > self.now() then return memo.m end
  return net.run(function()
    local res, err = self:resolve(domain, "MX")
    if not res then return { status = "timeout", why = err, hosts = {} } end
    local m = mx_status(domain, res)
    if m.status == "ok" and (want_addr or m.implicit) then
      m = mx_addresses(self, domain, m, glue_of(res.answer))
    end
    if m.status ~= "timeout" and memo_key then       -- kept while the answers it rests on are
      local e = expiry(self, mx_keys(name, res, m))
      if e then
        if self.nmemo >= self.max_cache then self.mx_memo, self.nmemo = {}, 0 end
        if not self.mx_memo[memo_key] then self.nmemo = self.nmemo + 1 end
        self.mx_memo[memo_key] = { m = m, expires = e }
      end
    end
    return m
  end)
end

-- syntax: results = r:mx_many(domains)   -- results[i] = r:mx(domains[i]), in parallel
function R:mx_many(domains, o)
  if type(domains) ~= "table" then argerr("mx_many", "table expected, got " .. type(domains)) end
  return net.run(function()
    return (net.map(domains, self.concurrency, function(d) return self:mx(d, o) end))
  end)
end

-- syntax: n = r:cached()   -- answers in the cache
function R:cached() return self.ncache end

-- syntax: r:flush()
function R:flush()
  self.cache, self.ncache = {}, 0
  self.mx_memo, self.nmemo = {}, 0
end

_M.DEFAULTS = DEFAULTS

return _M
