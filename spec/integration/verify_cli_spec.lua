-- `bounce verify` and GET /verify, for real: the command line as a user
-- runs it (addresses, CSV files, stdin, a SQLite history, the SMTP probe),
-- and the endpoint in Debian's nginx, once through `bin/bounce serve` and
-- once from a user's own nginx.conf (cosockets). DNS: nsd behind dnsmasq;
-- SMTP: aiosmtpd. All on 127.0.0.1, free ports, stopped in teardown.

local dnsd = require("spec.support.dnsd")
local smtpd = require("spec.support.smtpd")
local nginx = require("spec.support.nginx")
local util = require("spec.support.util")
local cjson = require("cjson")
local socket = require("socket")

local q, sh, read, write = util.q, util.run, util.read, util.write

local ZONE = [[
$ORIGIN test.
$TTL 300
@            IN SOA  ns.test. admin.test. 1 3600 600 86400 60
@            IN NS   ns.test.
ns           IN A    127.0.0.1
mx           IN MX   10 mail.mx.test.
mail.mx      IN A    127.0.0.1
nullmx       IN MX   0 .
probe        IN MX   10 mx.probe.test.
mx.probe     IN A    127.0.0.1
]]

local SCRIPT = {
  domains = { ["probe.test"] = "550 5.1.1 <unknown>: Recipient address rejected: User unknown" },
  rcpt = { ["ann@probe.test"] = { "250 2.1.5 OK" } },
}

local TOKEN = "verify-token-0123456789"

local usable, why = dnsd.available()
if usable then usable, why = smtpd.available() end
if usable then usable, why = nginx.available() end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\r\n]+") do out[#out + 1] = l end
  return out
end

describe("bounce verify", function()
  if not usable then
    if os.getenv("CI") then error(why) end
    pending(why)
    return
  end

  local srv, smtp, dir, DNS
  -- runs bin/bounce verify ARGS (quoted by the caller) with stdin from a file
  local function bounce(args, stdin, env)
    local cmd = (env or "") .. " lua5.4 bin/bounce verify --dns " .. DNS .. " " .. args
    if stdin then
      write(dir .. "/stdin", stdin)
      cmd = cmd .. " <" .. q(dir .. "/stdin")
    else
      cmd = cmd .. " </dev/null"
    end
    local rc, out = sh("(BOUNCE_PROGRESS=${BOUNCE_PROGRESS:-0} " .. cmd .. " 2>" .. q(dir .. "/stderr") .. ")")
    return rc, out, read(dir .. "/stderr") or ""
  end

  setup(function()
    local _, d = sh("mktemp -d /tmp/bounce-verify-cli.XXXXXX")
    dir = d:gsub("%s+$", "")
    sh("chmod 755 " .. q(dir))
    srv = dnsd.start{ zones = { test = ZONE } }
    DNS = "127.0.0.1:" .. srv.port
    smtp = smtpd.start(SCRIPT)
  end)
  teardown(function()
    if smtp then smtp:stop() end
    if srv then srv:stop() end
    if dir then sh("rm -rf " .. q(dir)) end
  end)

  it("says valid, invalid and why, one line per address; exit 1 when one is invalid", function()
    local rc, out = bounce("ann@mx.test c@nullmx.test 'a..b@mx.test'")
    assert.equal(1, rc)
    local l = lines(out)
    assert.equal(3, #l)
    assert.matches("^ann@mx%.test%s+valid%s+mail goes to mail%.mx%.test", l[1])
    assert.matches("^c@nullmx%.test%s+invalid%s+nullmx%.test accepts no mail %(null MX, RFC 7505%)$", l[2])
    assert.matches("^a%.%.b@mx%.test%s+invalid%s+syntax: '%.%.' in the local part", l[3])
    assert.equal(0, (bounce("ann@mx.test")))
  end)

  it("writes one JSON object per address with --json", function()
    local rc, out = bounce("--json ann@mx.test idn@bücher.test")
    assert.equal(1, rc)
    local a, b = cjson.decode(lines(out)[1]), cjson.decode(lines(out)[2])
    assert.same({ "valid", "ok", "ok", { "mail.mx.test" } }, { a.verdict, a.syntax, a.domain, a.mx })
    assert.equal("idn@xn--bcher-kva.test", b.addr)
    assert.equal("nxdomain", b.domain)
  end)

  it("reads a CSV file and writes its rows back with the verdicts, in order", function()
    write(dir .. "/in.csv", "name,Email,city\r\nAnn,ann@mx.test,Oslo\r\n\"Lee, Bob\",bob@nope.test,\"Rio, BR\"\r\n"
      .. "Cy,,Nowhere\r\n")
    local rc, out = bounce("--csv " .. q(dir .. "/in.csv"))
    assert.equal(1, rc)
    local l = lines(out)
    assert.equal("name,Email,city,addr,verdict,why,syntax,domain,mx,history,smtp,catch_all,disposable,role,smtp_reply",
                 l[1])
    assert.matches("^Ann,ann@mx%.test,Oslo,ann@mx%.test,valid,", l[2])
    assert.matches('^"Lee, Bob",bob@nope%.test,"Rio, BR",bob@nope%.test,invalid,nope%.test does not exist', l[3])
    assert.matches("^Cy,,Nowhere,,invalid,syntax: an empty address,invalid,", l[4])
    assert.equal(4, #l)
  end)

  it("reads one address per line from stdin, and shows a progress bar when asked", function()
    local list = {}
    for i = 1, 50 do list[i] = "u" .. i .. "@mx.test" end
    local rc, out, err = bounce("--csv", table.concat(list, "\n") .. "\n", "BOUNCE_PROGRESS=1")
    assert.equal(0, rc)
    assert.equal(51, #lines(out))
    assert.matches("%] +%?%%  50 addresses", err)           -- stdin: no total known
    write(dir .. "/list.txt", table.concat(list, "\n") .. "\n")
    rc, out, err = bounce(q(dir .. "/list.txt"), nil, "BOUNCE_PROGRESS=1")
    assert.equal(0, rc)
    assert.equal(50, #lines(out))
    assert.matches("%[##############################%] 100%%  50/50 addresses", err)
  end)

  it("is invalid for what the history (--db) suppressed, with its why", function()
    local db = dir .. "/bounce.db"
    local t = require("bounce").tracker{ store = require("bounce").store.sqlite(db) }
    assert(t:record{ rcpt = "gone@mx.test", reply = "550 5.1.1 user unknown", at = 1795000000 })
    local rc, out = bounce("--json --db " .. q(db) .. " gone@mx.test ann@mx.test")
    assert.equal(1, rc)
    local g, a = cjson.decode(lines(out)[1]), cjson.decode(lines(out)[2])
    assert.equal("invalid", g.verdict)
    assert.equal("suppressed", g.history)
    assert.equal("suppressed since 2026-11-18: hard bounce (userunknown)", g.why)
    assert.equal("clean", a.history)
  end)

  it("is invalid for an address at a domain the history (--db) knows is dead, with its why", function()
    local db = dir .. "/dead.db"
    local b = require("bounce")
    local s = assert(b.store.sqlite(db))
    local t = b.tracker{ store = s }
    assert(t:record{ rcpt = "x@mx.test", reply = "550 5.1.2 <x@mx.test>: Recipient address rejected: "
                     .. "Domain not found" })
    s:close()
    local rc, out = bounce("--json --db " .. q(db) .. " other@mx.test ann@probe.test")
    assert.equal(1, rc)
    local g, a = cjson.decode(lines(out)[1]), cjson.decode(lines(out)[2])
    assert.same({ "invalid", "dead_domain" }, { g.verdict, g.history })
    assert.matches("^dead domain mx%.test since %d+%-%d+%-%d+ until %d+%-%d+%-%d+: no such domain "
      .. "%(hostunknown%)$", g.why)
    assert.same({ "valid", "clean" }, { a.verdict, a.history })
  end)

  it("probes with --smtp, named by --helo and --from", function()
    local rc, out = bounce("--json --smtp --helo verify.example.com --from probe@example.com --smtp-port "
      .. smtp.port .. " ann@probe.test nobody@probe.test")
    assert.equal(1, rc)
    local a, b = cjson.decode(lines(out)[1]), cjson.decode(lines(out)[2])
    assert.same({ "valid", "accepted", false }, { a.verdict, a.smtp, a.catch_all })
    assert.same({ "invalid", "hard" }, { b.verdict, b.smtp })
    assert.same({}, smtp:entries("DATA"))
  end)

  it("says what is wrong with its arguments, exit 2", function()
    local rc, _, err = bounce("--bogus ann@mx.test")
    assert.equal(2, rc)
    assert.matches("unknown option %-%-bogus", err)
    rc, _, err = bounce(q(dir .. "/missing.csv"))
    assert.equal(2, rc)
    assert.matches("missing%.csv", err)
    rc, _, err = bounce("--json --csv a@mx.test")
    assert.equal(2, rc)
    assert.matches("one or the other", err)
    local out
    rc, out = sh("lua5.4 bin/bounce verify --dns 'not a server' a@mx.test")
    assert.equal(2, rc)
    assert.matches("HOST, HOST:PORT or %[IPv6%]:PORT expected", out)
  end)

  describe("GET /verify", function()
    local function get(port, path)
      local http, ltn12 = require("socket.http"), require("ltn12")
      local chunks = {}
      local ok, status = http.request{ url = "http://127.0.0.1:" .. port .. path,
        headers = { authorization = "Bearer " .. TOKEN }, sink = ltn12.sink.table(chunks) }
      assert(ok, status)
      local body = table.concat(chunks)
      local okj, v = pcall(cjson.decode, body)
      return status, okj and v or body
    end

    it("answers in `bounce serve` (--dns), and refuses probes it was not allowed", function()
      local prefix, out = dir .. "/serve", dir .. "/serve.out"
      local port, pid
      for _ = 1, 5 do
        port = util.free_port()
        local _, p = sh("lua5.4 bin/bounce serve --listen 127.0.0.1:" .. port .. " --prefix " .. q(prefix)
          .. " --token " .. TOKEN .. " --dns " .. DNS .. " >" .. q(out) .. " 2>&1 & echo $!")
        pid = tonumber(p:match("(%d+)"))
        local deadline = socket.gettime() + 10
        local up
        repeat
          socket.sleep(0.05)
          local c = socket.tcp()
          c:settimeout(0.2)
          up = c:connect("127.0.0.1", port) ~= nil
          c:close()
        until up or socket.gettime() > deadline or sh("kill -0 " .. pid) ~= 0
        if up then break end
        sh("kill -TERM " .. pid)
        pid = nil
      end
      assert(pid, read(out))
      local ok, err = pcall(function()
        local status, r = get(port, "/verify?rcpt=ann@mx.test")
        assert.equal(200, status)
        assert.same({ "ann@mx.test", "valid", { "mail.mx.test" } }, { r.addr, r.verdict, r.mx })
        status, r = get(port, "/verify?rcpt=c@nullmx.test")
        assert.equal(200, status)
        assert.same({ "invalid", "null_mx", {} }, { r.verdict, r.domain, r.mx })
        status, r = get(port, "/verify?rcpt=ann@mx.test&smtp=1")
        assert.equal(403, status)
        assert.matches("SMTP probes are not enabled", r.error)
        status, r = get(port, "/verify")
        assert.equal(400, status)
        assert.equal("query parameter 'rcpt' expected", r.error)
        status = get(port, "/verify?rcpt=a..b@mx.test")
        assert.equal(200, status)
      end)
      sh("kill -TERM " .. pid)
      local deadline = socket.gettime() + 5
      while sh("kill -0 " .. pid) == 0 and socket.gettime() < deadline do socket.sleep(0.05) end
      assert(ok, err)
    end)

    it("probes over cosockets in a user's own nginx.conf, with the worker's history", function()
      local http = ([[
        lua_shared_dict bounce 1m;
        init_by_lua_block {
          require("bounce.serve").init{ token = "%s", store = "shdict:bounce",
            verify = { dns = "%s", smtp = true, helo = "verify.example.com", from = "probe@example.com",
                       smtp_port = %d, rate = 6000 } }
        }
        init_worker_by_lua_block { require("bounce.serve").init_worker() }
      ]]):format(TOKEN, DNS, smtp.port)
      nginx.with({ http = http, server = [[ location / { content_by_lua_block { require("bounce.serve").handle() } } ]] },
        function(n)
          smtp:clear()
          local status, r = get(n.port, "/verify?rcpt=ann@probe.test&smtp=1")
          assert.equal(200, status, n:error_log())
          assert.same({ "valid", "accepted", false }, { r.verdict, r.smtp, r.catch_all })
          status, r = get(n.port, "/verify?rcpt=nobody@probe.test&smtp=1")
          assert.equal(200, status)
          assert.same({ "invalid", "hard" }, { r.verdict, r.smtp })
          assert.equal(3, #smtp:entries("RCPT"))
          -- a suppression recorded through the service makes the address invalid
          local s = n:post("/webhooks/postmark", cjson.encode{ RecordType = "Bounce", Type = "HardBounce",
            TypeCode = 1, Email = "ann@mx.test", BouncedAt = "2026-11-18T00:00:00Z", Details = "550 5.1.1 unknown" },
            { authorization = "Bearer " .. TOKEN, ["content-type"] = "application/json" })
          assert.equal(200, s)
          status, r = get(n.port, "/verify?rcpt=ann@mx.test")
          assert.equal(200, status)
          assert.same({ "invalid", "suppressed" }, { r.verdict, r.history })
        end)
    end)
  end)
end)
