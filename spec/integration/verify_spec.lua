-- bounce.verify against real servers: Debian's nsd serving a zone file,
-- behind dnsmasq (which forwards silent.test to a server that never
-- answers), a hostile DNS server for answers no real one sends
-- (spec/support/dns_hostile.py), and aiosmtpd scripted for the SMTP probe.
-- Everything listens on 127.0.0.1 on free ports and is stopped in teardown.

local dnsd = require("spec.support.dnsd")
local smtpd = require("spec.support.smtpd")
local util = require("spec.support.util")

local ZONE = [[
$ORIGIN test.
$TTL 300
@            IN SOA  ns.test. admin.test. 1 3600 600 86400 60
@            IN NS   ns.test.
ns           IN A    127.0.0.1
mx           IN MX   10 mail.mx.test.
mx           IN MX   20 backup.mx.test.
mail.mx      IN A    127.0.0.1
backup.mx    IN A    127.0.0.1
aonly        IN A    127.0.0.1
v6only       IN AAAA ::1
nullmx       IN MX   0 .
deadmx       IN MX   10 gone.deadmx.test.
alias        IN CNAME mx.test.
xn--bcher-kva IN MX  10 mail.mx.test.
short    1   IN MX   10 mail.mx.test.
probe        IN MX   10 mx.probe.test.
mx.probe     IN A    127.0.0.1
catchall     IN MX   10 mx.catchall.test.
mx.catchall  IN A    127.0.0.1
utf          IN MX   10 mx.probe.test.
]]

local usable, why = dnsd.available()
local smtp_ok, smtp_why = smtpd.available()
if usable and not smtp_ok then usable, why = false, smtp_why end

local bounce, verify, dns

local function addrs_of(list)
  local out = {}
  for i, r in ipairs(list) do out[i] = r.addr .. " " .. r.verdict end
  return out
end

describe("bounce.verify", function()
  if not usable then
    if os.getenv("CI") then error(why) end
    pending("needs nsd, dnsmasq and python3-aiosmtpd: " .. tostring(why))
    return
  end

  local srv, v
  setup(function()
    bounce = require("bounce")
    verify = require("bounce.verify")
    dns = require("bounce.dns")
    srv = dnsd.start{ zones = { test = ZONE }, servfail = { "broken.test" }, silent = { "silent.test" } }
  end)
  teardown(function()
    if srv then srv:stop() end
  end)
  before_each(function()
    v = assert(verify.new{ dns = "127.0.0.1:" .. srv.port, dns_timeout = 0.3, dns_retries = 1 })
  end)

  describe("the domain", function()
    it("is valid with an MX, and names its MX hosts best first", function()
      local r = v:verify("Ann.Lee@MX.test")
      assert.equal("valid", r.verdict)
      assert.equal("Ann.Lee@mx.test", r.addr)
      assert.equal("ok", r.syntax)
      assert.equal("ok", r.domain)
      assert.same({ "mail.mx.test", "backup.mx.test" }, r.mx)
      assert.is_nil(r.smtp)
      assert.matches("not probed", r.why)
    end)

    it("takes the domain's own address when it has no MX (RFC 5321 implicit MX)", function()
      local r = v:verify("bob@aonly.test")
      assert.equal("valid", r.verdict)
      assert.same({ "aonly.test" }, r.mx)
      assert.is_true(r.implicit_mx)
      assert.equal("valid", v:verify("bob@v6only.test").verdict)
    end)

    it("is invalid with a null MX (RFC 7505)", function()
      local r = v:verify("c@nullmx.test")
      assert.equal("invalid", r.verdict)
      assert.equal("null_mx", r.domain)
      assert.equal("nullmx.test accepts no mail (null MX, RFC 7505)", r.why)
    end)

    it("is invalid when the domain does not exist", function()
      local r = v:verify("d@nope.test")
      assert.equal("invalid", r.verdict)
      assert.equal("nxdomain", r.domain)
      assert.matches("nope.test does not exist %(NXDOMAIN", r.why)
    end)

    it("is invalid when no MX host has an address", function()
      local r = v:verify("e@deadmx.test")
      assert.equal("invalid", r.verdict)
      assert.equal("no_address", r.domain)
      assert.matches("no MX host of deadmx.test has an address", r.why)
    end)

    it("is unknown, never invalid, when the server fails (SERVFAIL)", function()
      local r = v:verify("f@x.broken.test")
      assert.equal("unknown", r.verdict)
      assert.equal("servfail", r.domain)
      assert.matches("SERVFAIL", r.why)
    end)

    it("is unknown, never invalid, when the server does not answer", function()
      local r = v:verify("g@a.silent.test")
      assert.equal("unknown", r.verdict)
      assert.equal("timeout", r.domain)
      assert.matches("no answer for a.silent.test MX after 2 tries %(127.0.0.1:%d+: timeout%)", r.why)
    end)

    it("is unknown when no server listens at all", function()
      local port = util.free_port()
      local w = assert(verify.new{ dns = "127.0.0.1:" .. port, dns_timeout = 0.2, dns_retries = 0 })
      local r = w:verify("h@mx.test")
      assert.equal("unknown", r.verdict)
      assert.equal("timeout", r.domain)
    end)

    it("follows a CNAME to the domain's MX", function()
      local r = v:verify("i@alias.test")
      assert.equal("valid", r.verdict)
      assert.same({ "mail.mx.test", "backup.mx.test" }, r.mx)
    end)

    it("looks up a Unicode domain by its A-labels", function()
      local r = v:verify("idn@Bücher.test")
      assert.equal("valid", r.verdict)
      assert.equal("idn@xn--bcher-kva.test", r.addr)
      assert.is_true(r.idn)
      assert.equal(1, srv:forwarded("xn--bcher-kva.test", "MX"))
    end)

    it("caches answers by their TTL, and asks again once it ran out", function()
      local now = 1000
      local r = assert(dns.new{ servers = "127.0.0.1:" .. srv.port, clock = function() return now end })
      local w = assert(verify.new{ resolver = r })
      assert.equal("valid", w:verify("a@short.test").verdict)
      assert.equal("valid", w:verify("b@short.test").verdict)
      assert.equal(1, srv:forwarded("short.test", "MX"))      -- TTL 1: kept for a second
      now = now + 2
      assert.equal("valid", w:verify("c@short.test").verdict)
      assert.equal(2, srv:forwarded("short.test", "MX"))
      -- a NXDOMAIN is kept by the SOA's minimum (60 s, RFC 2308)
      w:verify("a@gone-soon.test")
      now = now + 59
      w:verify("b@gone-soon.test")
      assert.equal(1, srv:forwarded("gone-soon.test", "MX"))
      now = now + 2
      w:verify("c@gone-soon.test")
      assert.equal(2, srv:forwarded("gone-soon.test", "MX"))
    end)
  end)

  describe("the syntax", function()
    it("is invalid, with the reason, and asks no DNS server", function()
      local r = v:verify("ann..lee@mx.test")
      assert.equal("invalid", r.verdict)
      assert.equal("invalid", r.syntax)
      assert.equal("syntax: '..' in the local part (at byte 3)", r.why)
      assert.is_nil(r.domain)
      for _, bad in ipairs({ "", "no-at-sign", "a@localhost", "a@b@c.test", ("x"):rep(65) .. "@mx.test",
                             "a@-x.test", "a b@mx.test", "a@cafe\204\129.test" }) do
        local x = v:verify(bad)
        assert.equal("invalid", x.verdict, bad)
        assert.equal("invalid", x.syntax, bad)
      end
      assert.equal(0, srv:forwarded("localhost"))
    end)

    it("takes quoted local parts and literals", function()
      assert.equal("valid", v:verify('"ann lee"@mx.test').verdict)
      assert.equal('"ann lee"@mx.test', v:verify('"ann lee"@mx.test').addr)
      local r = v:verify("a@[192.0.2.1]")
      assert.equal("risky", r.verdict)
      assert.equal("literal", r.domain)
    end)
  end)

  describe("in bulk", function()
    it("verifies many addresses in parallel, results in order, each domain asked once", function()
      local list, want = {}, {}
      local domains = { "bulk1.test", "bulk2.test", "aonly.test", "nope2.test", "nullmx.test" }
      for i = 1, 500 do
        local d = domains[i % #domains + 1]
        list[i] = "u" .. i .. "@" .. d
        want[i] = list[i] .. " " .. ((d == "aonly.test") and "valid" or "invalid")
      end
      local seen, before = 0, {}
      for _, d in ipairs(domains) do before[d] = srv:forwarded(d, "MX") end
      local res = v:many(list, nil, function(done) seen = done end)
      assert.same(want, addrs_of(res))
      assert.equal(500, seen)
      for _, d in ipairs(domains) do assert.equal(1, srv:forwarded(d, "MX") - before[d], d) end
    end)

    it("goes on while a silent domain times out", function()
      local list = { "a@b.silent.test", "b@aonly.test", "c@c.silent.test", "d@nope3.test" }
      local res = v:many(list)
      assert.same({ "a@b.silent.test unknown", "b@aonly.test valid", "c@c.silent.test unknown",
                    "d@nope3.test invalid" }, addrs_of(res))
    end)
  end)

  describe("with history", function()
    it("is invalid for an address the tracker suppressed, with the history's why", function()
      local t = bounce.tracker{}
      t:record{ rcpt = "gone@mx.test", reply = "550 5.1.1 <gone@mx.test>: user unknown", at = 1795000000 }
      local r = v:verify("Gone@mx.test", { tracker = t })
      assert.equal("invalid", r.verdict)
      assert.equal("suppressed", r.history)
      assert.equal("suppressed since 2026-11-18: hard bounce (userunknown)", r.why)
      local ok = v:verify("fine@mx.test", { tracker = t })
      assert.equal("valid", ok.verdict)
      assert.equal("clean", ok.history)
    end)

    it("is invalid for any address at a domain the tracker knows is dead, before asking DNS", function()
      local t = bounce.tracker{}
      -- the domain has an MX in the test zone: only the history can refuse it
      t:record{ rcpt = "x@mx.test", at = 1795000000,
                reply = "550 5.1.2 <x@mx.test>: Recipient address rejected: Domain not found" }
      local r = v:verify("Someone@mx.test", { tracker = t, at = 1795000000 + 60 })
      assert.same({ "invalid", "dead_domain" }, { r.verdict, r.history })
      assert.equal("dead domain mx.test since 2026-11-18 until 2026-12-18: no such domain (hostunknown)", r.why)
      assert.is_nil(r.domain)
      t:record{ rcpt = "back@mx.test", type = "delivered", at = 1795000000 + 120 }
      r = v:verify("Someone@mx.test", { tracker = t, at = 1795000000 + 180 })
      assert.same({ "valid", "clean" }, { r.verdict, r.history })
    end)

    it("is invalid whenever t:check refuses, whatever the reason it gives", function()
      -- any tracker-shaped object is asked the same way
      local t = bounce.tracker{}
      local dead = setmetatable({ check = function(_, rcpt, at)
        if rcpt:match("@mx%.test$") then return false, "domain mx.test is dead since 2026-11-20: hostunknown" end
        return t.check(t, rcpt, at)
      end }, { __index = t })
      local r = v:verify("x@mx.test", { tracker = dead })
      assert.equal("invalid", r.verdict)
      assert.equal("domain mx.test is dead since 2026-11-20: hostunknown", r.why)
    end)

    it("checks the Unicode and the A-label forms of an IDN address", function()
      local t = bounce.tracker{}
      t:record{ rcpt = "idn@bücher.test", type = "hard", reason = "userunknown", at = 1795000000 }
      t:record{ rcpt = "idn2@xn--bcher-kva.test", type = "hard", reason = "userunknown", at = 1795000000 }
      assert.equal("invalid", v:verify("idn@xn--bcher-kva.test", { tracker = t }).verdict)
      assert.equal("invalid", v:verify("idn@BÜCHER.test", { tracker = t }).verdict)
      assert.equal("invalid", v:verify("idn2@bücher.test", { tracker = t }).verdict)
      assert.equal("valid", v:verify("idn3@bücher.test", { tracker = t }).verdict)
    end)

    it("is unknown when the history cannot be read", function()
      local broken = { get = function() return nil, "disk on fire" end, cas = function() return nil, "disk on fire" end,
                       scan = function() return function() return nil end end }
      local t = bounce.tracker{ store = broken }
      local r = v:verify("ann@mx.test", { tracker = t })
      assert.equal("unknown", r.verdict)
      assert.equal("error", r.history)
      assert.equal("history: store: disk on fire", r.why)
      -- a dead domain stays invalid whatever the history says
      assert.equal("invalid", v:verify("ann@nope.test", { tracker = t }).verdict)
    end)
  end)

  describe("with the user's lists", function()
    it("flags disposable domains (and their subdomains) and role accounts, and makes them risky", function()
      local dir = select(2, util.run("mktemp -d /tmp/bounce-lists.XXXXXX")):gsub("%s+$", "")
      util.write(dir .. "/roles.txt", "# role accounts\ninfo\nPostmaster\n")
      local ok, err = pcall(function()
        local o = { disposable = { "aonly.test" }, roles = dir .. "/roles.txt" }
        local r = v:verify("x@aonly.test", o)
        assert.equal("risky", r.verdict)
        assert.is_true(r.disposable)
        assert.matches("^a disposable domain %(your list%)", r.why)
        local p = v:verify("postmaster+tag@mx.test", o)
        assert.equal("risky", p.verdict)
        assert.is_true(p.role)
        assert.equal("valid", v:verify("ann@mx.test", o).verdict)
        -- the flags do not hide a worse verdict
        assert.equal("invalid", v:verify("info@nope.test", o).verdict)
      end)
      util.run("rm -rf " .. util.q(dir))
      assert(ok, err)
    end)
  end)

  describe("against hostile DNS answers", function()
    local h
    before_each(function()
      h = assert(verify.new{ dns = "127.0.0.1:" .. srv.hostile_port, dns_timeout = 0.3, dns_retries = 1 })
    end)

    for _, kind in ipairs({ "loop", "twoloop", "forward", "cut", "counts", "badlabel", "rdata", "wrongid",
                            "question", "hugetxt", "garbage", "servfail", "silent" }) do
      it("gives unknown for " .. kind .. ", never a crash", function()
        local r = h:verify("ann@" .. kind .. ".hostile.test")
        assert.equal("unknown", r.verdict)
        assert.is_true(r.domain == "timeout" or r.domain == "servfail", r.domain)
        assert.is_string(r.why)
      end)
    end

    it("says what was wrong with an answer it could not read", function()
      assert.matches("compression loop or forward pointer", h:verify("a@loop.hostile.test").why)
      assert.matches("record data does not fit", h:verify("a@rdata.hostile.test").why)
      assert.matches("ends inside", h:verify("a@cut.hostile.test").why)
    end)

    it("ignores a forged answer under another id and takes the real one", function()
      local r = h:verify("ann@forged.hostile.test")
      assert.equal("valid", r.verdict)
      assert.same({ "mx.forged.hostile.test" }, r.mx)
      assert.is_true(h.resolver.stats.ignored >= 1)
    end)

    it("asks again over TCP when the answer is truncated, and reads 60 KB of it", function()
      local r = h:verify("ann@bigtxt.hostile.test")
      assert.equal("valid", r.verdict)
      assert.same({ "mx.bigtxt.hostile.test" }, r.mx)
      assert.is_true(h.resolver.stats.tcp >= 1)
    end)
  end)

  describe("with the SMTP probe (aiosmtpd)", function()
    local smtp
    local SCRIPT = {
      log_session = true,
      domains = { ["probe.test"] = "550 5.1.1 <unknown>: Recipient address rejected: User unknown" },
      rcpt = {
        ["ann@probe.test"] = { "250 2.1.5 OK" },
        ["gone@probe.test"] = { "550 5.1.1 <gone@probe.test>: Recipient address rejected: User unknown" },
        ["listed@probe.test"] = { "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                                  .. "zen.spamhaus.org" },
        ["busy@probe.test"] = { "421 4.3.2 Service not available, closing transmission channel" },
        ["crowd@probe.test"] = { "421 4.7.0 mx.probe.test Too many connections, try again later" },
        ["grey@probe.test"] = { "450 4.2.0 <grey@probe.test>: Recipient address rejected: Greylisted" },
      },
    }
    local function opts(extra)
      local o = { smtp = true, helo = "verify.example.com", from = "probe@example.com", smtp_port = smtp.port,
                  smtp_timeout = 5, rate = 6000 }
      for k, x in pairs(extra or {}) do o[k] = x end
      return o
    end
    setup(function() smtp = smtpd.start(SCRIPT) end)
    teardown(function() if smtp then smtp:stop() end end)
    before_each(function() smtp:clear() end)

    it("is valid when the server takes the mailbox and refuses a random one", function()
      local r = v:verify("ann@probe.test", opts())
      assert.equal("valid", r.verdict)
      assert.equal("accepted", r.smtp)
      assert.is_false(r.catch_all)
      assert.equal("250 2.1.5 OK", r.smtp_reply)
      assert.equal("mx.probe.test", r.smtp_host)
    end)

    it("identifies itself and never sends DATA: EHLO, MAIL, RCPT, RCPT, RSET, QUIT", function()
      v:verify("ann@probe.test", opts())
      local seq = {}
      for _, e in ipairs(smtp:entries()) do seq[#seq + 1] = e.cmd end
      assert.same({ "EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT" }, seq)
      local e = smtp:entries()
      assert.equal("verify.example.com", e[1].name)
      assert.equal("probe@example.com", e[2].from)
      assert.equal("ann@probe.test", e[3].rcpt)
      assert.matches("^bounce%-probe%-%x+@probe%.test$", e[4].rcpt)
      assert.same({}, smtp:entries("DATA"))
    end)

    it("is invalid on 550 5.1.1, read by bounce.classify", function()
      local r = v:verify("gone@probe.test", opts())
      assert.equal("invalid", r.verdict)
      assert.equal("hard", r.smtp)
      assert.matches("refused the mailbox: 550 5.1.1 .* %(userunknown%)$", r.why)
    end)

    it("is risky at a catch-all domain, and asks the random address once per domain", function()
      local r = v:verify("anyone@catchall.test", opts())
      assert.equal("risky", r.verdict)
      assert.is_true(r.catch_all)
      assert.matches("catch%-all", r.why)
      smtp:clear()
      local r2 = v:verify("someone@catchall.test", opts())
      assert.equal("risky", r2.verdict)
      assert.is_true(r2.catch_all)
      assert.equal(1, #smtp:entries("RCPT"))        -- the domain's answer is kept (catch_all_ttl)
    end)

    it("is unknown on a 554 block: the prober is refused, not the address", function()
      local r = v:verify("listed@probe.test", opts())
      assert.equal("unknown", r.verdict)
      assert.equal("block", r.smtp)
      assert.matches("refused the prober, not the address", r.why)
    end)

    it("is unknown on 421 and on greylisting", function()
      local r = v:verify("busy@probe.test", opts())
      assert.equal("unknown", r.verdict)
      assert.equal("soft", r.smtp)
      assert.matches("deferred: 421 4.3.2", r.why)
      local c = v:verify("crowd@probe.test", opts())   -- toomanyconn: the sender is refused
      assert.equal("unknown", c.verdict)
      assert.equal("block", c.smtp)
      local g = v:verify("grey@probe.test", opts())
      assert.equal("unknown", g.verdict)
      assert.equal("soft", g.smtp)
    end)

    it("is unknown when no MX host takes a connection", function()
      local r = v:verify("ann@probe.test", opts{ smtp_port = util.free_port() })
      assert.equal("unknown", r.verdict)
      assert.equal("failed", r.smtp)
      assert.matches("connect: connection refused", r.why)
    end)

    it("limits probes per domain: one beyond the rate is not sent and is unknown", function()
      local o = opts{ rate = 1, rate_wait = 0 }
      assert.equal("valid", v:verify("ann@probe.test", o).verdict)
      local r = v:verify("gone@probe.test", o)
      assert.equal("unknown", r.verdict)
      assert.equal("skipped", r.smtp)
      assert.equal(0, #smtp:entries("RCPT") - 2)   -- only the first probe's two RCPTs
    end)

    it("needs SMTPUTF8 for a UTF-8 local part", function()
      local r = v:verify("jöhn@utf.test", opts())
      assert.equal("unknown", r.verdict)
      assert.equal("failed", r.smtp)
      assert.matches("SMTPUTF8", r.why)
      assert.same({}, smtp:entries("RCPT"))
    end)

    it("keeps the history's verdict without probing", function()
      local t = bounce.tracker{}
      t:record{ rcpt = "ann@probe.test", type = "complaint", at = 1795000000 }
      local r = v:verify("ann@probe.test", opts{ tracker = t })
      assert.equal("invalid", r.verdict)
      assert.same({}, smtp:entries("EHLO"))
    end)

    it("probes a list in parallel, the rate per domain kept", function()
      local list = { "ann@probe.test", "gone@probe.test", "x@catchall.test", "y@nope.test", "listed@probe.test" }
      local res = v:many(list, opts())
      assert.same({ "ann@probe.test valid", "gone@probe.test invalid", "x@catchall.test risky",
                    "y@nope.test invalid", "listed@probe.test unknown" }, addrs_of(res))
    end)
  end)
end)
