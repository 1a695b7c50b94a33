-- The DNS parser, IDN conversion and mailbox syntax through the binding
-- (bounce.core.dns_query, dns_parse, idn_to_ascii, idn_to_unicode,
-- mailbox), the resolver's configuration (bounce.dns), and the verdicts
-- bounce.verify reaches without the network. Answers are built byte by
-- byte here, as a server (or an attacker) would send them.

local core = require("bounce.core")
local bounce = require("bounce")
local dns = require("bounce.dns")
local verify = require("bounce.verify")

local char, floor = string.char, math.floor

local function u16(n) return char(floor(n / 256) % 256, n % 256) end
local function u32(n) return u16(floor(n / 65536) % 65536) .. u16(n % 65536) end
local function name(s)
  local out = {}
  for label in s:gmatch("[^.]+") do out[#out + 1] = char(#label) .. label end
  return table.concat(out) .. "\0"
end
local function header(id, flags, qd, an, ns, ar) return u16(id) .. u16(flags) .. u16(qd) .. u16(an) .. u16(ns) .. u16(ar) end
local function question(q, t) return name(q) .. u16(t) .. u16(1) end
local function rr(owner, t, ttl, rdata) return owner .. u16(t) .. u16(1) .. u32(ttl) .. u16(#rdata) .. rdata end
local P = "\192\12"   -- a pointer to the question's name

describe("bounce.core.dns_query", function()
  it("builds a recursive query, with EDNS0 when asked", function()
    local q = core.dns_query(0xBEEF, "Example.org.", "MX")
    assert.equal(header(0xBEEF, 0x0100, 1, 0, 0, 0) .. question("example.org", 15), q)   -- lower-cased
    local e = core.dns_query(1, "example.org", "A", 1232)
    assert.equal(#q + 11, #e)
    assert.equal("\0\0\41\4\208", e:sub(-11, -7))          -- OPT, payload 1232
    assert.equal(core.dns_query(1, "example.org", 28), core.dns_query(1, "example.org", "AAAA"))
  end)

  it("refuses what is not a domain name, and raises on wrong arguments", function()
    assert.same({ nil, "not a domain name: 'a..b'" }, { core.dns_query(1, "a..b", "A") })
    assert.is_nil((core.dns_query(1, "bücher.de", "A")))   -- A-labels only: bounce.dns converts
    assert.is_nil((core.dns_query(1, ("a"):rep(64) .. ".org", "A")))
    assert.has_error(function() core.dns_query(70000, "a.org", "A") end, "bad argument #1 to 'dns_query' (id 0..65535 expected)")
    assert.has_error(function() core.dns_query(1, "a.org", "BOGUS") end)
    assert.has_error(function() core.dns_query(1, nil, "A") end)
  end)
end)

describe("bounce.core.dns_parse", function()
  local function mx_answer(id)
    return header(id, 0x8180, 1, 2, 0, 1) .. question("example.org", 15)
      .. rr(P, 15, 300, u16(10) .. "\3mx1" .. P)
      .. rr(P, 15, 600, u16(20) .. name("mx2.example.net"))
      .. rr("\3mx1" .. P, 1, 60, "\192\0\2\1")
  end

  it("reads an MX answer: records by section, names expanded, glue", function()
    local a = assert(core.dns_parse(mx_answer(77), 77, "example.org", "MX"))
    assert.equal("NOERROR", a.rcode_name)
    assert.equal(0, a.rcode)
    assert.is_true(a.ra)
    assert.is_false(a.tc)
    assert.same({ name = "example.org", type = "MX", class = 1, ttl = 300, pref = 10, host = "mx1.example.org" },
                a.answer[1])
    assert.equal("mx2.example.net", a.answer[2].host)
    assert.same({ name = "mx1.example.org", type = "A", class = 1, ttl = 60, address = "192.0.2.1" }, a.additional[1])
    assert.same({}, a.authority)
  end)

  it("reads NXDOMAIN with its SOA, whose minimum is the negative TTL", function()
    local m = header(5, 0x8183, 1, 0, 1, 0) .. question("nope.example.org", 15)
      .. rr("\192\17", 6, 3600, name("ns.example.org") .. "\5admin\192\17" .. u32(2026120401) .. u32(7200)
            .. u32(900) .. u32(1209600) .. u32(60))
    local a = assert(core.dns_parse(m, 5, "nope.example.org", "MX"))
    assert.equal("NXDOMAIN", a.rcode_name)
    local soa = a.authority[1]
    assert.equal("SOA", soa.type)
    assert.equal("ns.example.org", soa.mname)
    assert.equal("admin.example.org", soa.rname)
    assert.equal(2026120401, soa.serial)
    assert.equal(60, soa.minimum)
  end)

  it("reads AAAA, CNAME, TXT and keeps unknown types raw", function()
    local m = header(9, 0x8180, 1, 4, 0, 0) .. question("example.org", 28)
      .. rr(P, 5, 10, "\3www" .. P)
      .. rr(P, 28, 10, "\32\1\13\184" .. ("\0"):rep(11) .. "\1")
      .. rr(P, 16, 10, "\5hello\6 world")
      .. rr(P, 99, 10, "\1\2\3")
    local a = assert(core.dns_parse(m, 9, "example.org", "AAAA"))
    assert.equal("www.example.org", a.answer[1].target)
    assert.equal("2001:db8::1", a.answer[2].address)
    assert.same({ "hello", " world" }, a.answer[3].strings)
    assert.equal("hello world", a.answer[3].text)
    assert.equal(99, a.answer[4].type)
    assert.equal("\1\2\3", a.answer[4].rdata)
  end)

  it("reads EDNS0 and its extended RCODE", function()
    local m = header(6, 0x8180, 1, 0, 0, 1) .. question("example.org", 15) .. "\0" .. u16(41) .. u16(1232)
      .. u32(0x01000000) .. u16(0)
    local a = assert(core.dns_parse(m, 6, "example.org", "MX"))
    assert.is_true(a.edns)
    assert.equal(1232, a.udp_size)
    assert.equal("BADVERS", a.rcode_name)
  end)

  it("says 'mismatch' for what answers another query: another id, another question", function()
    local m = mx_answer(77)
    assert.same({ nil, "DNS answer: the id is not the query's (at byte 0)", "mismatch" },
                { core.dns_parse(m, 78, "example.org", "MX") })
    assert.same({ nil, "DNS answer: the question is not the one asked (at byte 12)", "mismatch" },
                { core.dns_parse(m, 77, "example.com", "MX") })
    assert.equal("mismatch", select(3, core.dns_parse(m, 77, "example.org", "A")))
    assert.equal("mismatch", select(3, core.dns_parse(core.dns_query(77, "example.org", "MX"), 77, "example.org", "MX")))
    assert.truthy(core.dns_parse(m, 77, "EXAMPLE.ORG", "MX"))   -- names compare without case
  end)

  it("says 'malformed', and where, for an answer it cannot read", function()
    local loop = header(1, 0x8180, 1, 1, 0, 0) .. question("example.org", 15) .. rr("\192\29", 15, 1, u16(1) .. P)
    assert.same({ nil, "DNS answer: malformed name (compression loop or forward pointer, bad label, "
                  .. "over 255 bytes) (at byte 29)", "malformed" }, { core.dns_parse(loop, 1, "example.org", "MX") })
    local cut = mx_answer(2):sub(1, -3)
    assert.same({ nil, "DNS answer: message ends inside the header, the question or a record (at byte 96)",
                  "malformed" }, { core.dns_parse(cut, 2, "example.org", "MX") })
    local bad_a = header(3, 0x8180, 1, 1, 0, 0) .. question("example.org", 1) .. rr(P, 1, 1, "\1\2\3")
    assert.matches("record data does not fit", (select(2, core.dns_parse(bad_a, 3, "example.org", "A"))))
    assert.equal("malformed", select(3, core.dns_parse("", 0, "example.org", "A")))
    assert.equal("malformed", select(3, core.dns_parse(("\255"):rep(70000), 65535, "example.org", "A")))
  end)

  it("keeps what came whole of a truncated (TC) answer", function()
    local m = mx_answer(4)
    m = m:sub(1, 2) .. char(m:byte(3) + 2) .. m:sub(4, -3)
    local a = assert(core.dns_parse(m, 4, "example.org", "MX"))
    assert.is_true(a.tc)
    assert.equal(2, #a.answer)
    assert.equal(1, a.cut)
  end)

  it("accepts a SERVFAIL without its question", function()
    local a = assert(core.dns_parse(header(8, 0x8182, 0, 0, 0, 0), 8, "example.org", "MX"))
    assert.equal("SERVFAIL", a.rcode_name)
  end)

  it("raises on wrong arguments", function()
    assert.has_error(function() core.dns_parse(nil, 1, "a.org", "A") end)
    assert.has_error(function() core.dns_parse("", -1, "a.org", "A") end)
    assert.has_error(function() core.dns_parse("", 1, "a.org", 0) end)
  end)
end)

describe("bounce.core.idn_to_ascii", function()
  it("turns a Unicode domain into A-labels, and back", function()
    assert.equal("xn--bcher-kva.de", core.idn_to_ascii("bücher.de"))
    assert.equal("xn--bcher-kva.de", core.idn_to_ascii("BÜCHER.DE"))
    assert.equal("xn--bcher-kva.de", core.idn_to_ascii("xn--bcher-kva.de"))
    assert.equal("xn--e1afmkfd.xn--p1ai", core.idn_to_ascii("пример.рф"))
    assert.equal("example.org", core.idn_to_ascii("Example.ORG"))
    assert.equal("bücher.de", core.idn_to_unicode("xn--bcher-kva.de"))
  end)

  it("refuses what it cannot convert, naming the code point and the byte", function()
    assert.same({ nil, "U+0301 at byte 4: a combining mark: write the letter precomposed (NFC)" },
                { core.idn_to_ascii("cafe\204\129.fr") })
    assert.same({ nil, "U+1F600 at byte 0: not allowed in a domain name (IDNA2008)" },
                { core.idn_to_ascii("\240\159\152\128.de") })
    assert.same({ nil, "an empty label (at byte 2)" }, { core.idn_to_ascii("a..b") })
    assert.same({ nil, "an xn-- label that is not Punycode (at byte 0)" }, { core.idn_to_ascii("xn--bcher-kv.de") })
    assert.has_error(function() core.idn_to_ascii(nil) end)
  end)
end)

describe("bounce.core.mailbox", function()
  it("gives the address with its domain in A-labels, and what it holds", function()
    assert.same({ addr = "Idn@xn--bcher-kva.de", ["local"] = "Idn", domain = "xn--bcher-kva.de", idn = true },
                core.mailbox(" <Idn@Bücher.DE> "))
    assert.same({ addr = '"a b"@example.org', ["local"] = '"a b"', domain = "example.org", quoted = true },
                core.mailbox('"a b"@example.org'))
    assert.is_true(core.mailbox("jöhn@example.org").utf8)
    assert.is_true(core.mailbox("a@[192.0.2.1]").literal)
  end)

  it("says what is wrong and where", function()
    assert.same({ nil, "'..' in the local part (at byte 3)", 3 }, { core.mailbox("ann..lee@example.org") })
    assert.same({ nil, "a domain of one label ('localhost'): mail needs a dot, as in example.com", 4 },
                { core.mailbox("ann@localhost") })
  end)
end)

describe("bounce.dns", function()
  it("reads server addresses", function()
    assert.same({ "127.0.0.1", 5353 }, { dns.parse_server("127.0.0.1:5353") })
    assert.same({ "10.0.0.1", 53 }, { dns.parse_server("10.0.0.1") })
    assert.same({ "::1", 53 }, { dns.parse_server("::1") })
    assert.same({ "2001:db8::53", 5300 }, { dns.parse_server("[2001:db8::53]:5300") })
    assert.is_nil((dns.parse_server("127.0.0.1:99999")))
    assert.is_nil((dns.parse_server("a b")))
  end)

  it("takes its servers from resolv.conf, with its options", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("# comment\nsearch example.org\nnameserver 10.1.1.1\nnameserver fe80::1%eth0\n",
            "nameserver 10.1.1.3\nnameserver 10.1.1.4\noptions timeout:1 attempts:4 rotate\n")
    f:close()
    local conf = assert(dns.read_resolv_conf(path))
    assert.same({ "10.1.1.1:53", "[fe80::1]:53", "10.1.1.3:53" }, conf.servers)
    assert.equal(1, conf.timeout)
    assert.equal(4, conf.attempts)
    local r = assert(dns.new{ resolv_conf = path })
    assert.equal(3, #r.servers)
    assert.equal(1, r.timeout)
    assert.equal(3, r.retries)
    f = assert(io.open(path, "w"))
    f:write("search example.org\n")
    f:close()
    assert.same({ nil, "DNS: no resolver: " .. path .. ": no nameserver line (give one: --dns HOST:PORT)" },
                { dns.new{ resolv_conf = path } })
    os.remove(path)
  end)

  it("raises on wrong options", function()
    assert.has_error(function() dns.new(5) end, "bad argument #1 to 'new' (table expected, got number)")
    assert.has_error(function() dns.new{ servers = "127.0.0.1", timeout = -1 } end)
    assert.has_error(function() dns.new{ servers = 5 } end)
  end)
end)

describe("bounce.verify without the network", function()
  -- port 9 (discard): nothing there answers; no spec below gets that far
  local v = assert(verify.new{ dns = "127.0.0.1:9", dns_timeout = 0.05, dns_retries = 0 })

  it("is invalid for bad syntax, with the reason", function()
    local r = v:verify("ann..lee@example.org")
    assert.same({ input = "ann..lee@example.org", addr = "ann..lee@example.org", syntax = "invalid",
                  verdict = "invalid", why = "syntax: '..' in the local part (at byte 3)" }, r)
  end)

  it("is invalid for a suppressed address before any lookup", function()
    local t = bounce.tracker{}
    t:record{ rcpt = "ann@example.org", type = "unsubscribe", at = 1795000000 }
    local r = v:verify("ann@example.org", { tracker = t })
    assert.equal("invalid", r.verdict)
    assert.equal("suppressed", r.history)
    assert.is_nil(r.domain)
  end)

  it("raises on wrong arguments, as bounce.verify", function()
    assert.has_error(function() bounce.verify(nil) end, "bad argument #1 to 'verify' (string expected, got nil)")
    assert.has_error(function() bounce.verify("a@b.org", { smtp = "yes" }) end,
                     "bad argument #2 to 'verify' (field 'smtp': boolean expected, got string)")
    assert.has_error(function() bounce.verify("a@b.org", { nonsense = 1 }) end,
                     "bad argument #2 to 'verify' (unknown option 'nonsense')")
    assert.has_error(function() v:many("a@b.org") end)
  end)

  it("lists the result's fields", function()
    assert.same({ "addr", "verdict", "why", "syntax", "domain", "mx", "history", "smtp", "catch_all" },
                { (table.unpack or unpack)(verify.FIELDS, 1, 9) })
  end)
end)
