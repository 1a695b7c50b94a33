-- bounce.messages: the messages of a file, an mbox or a maildir, streamed.
local bounce = require("bounce")
local reader = require("bounce.reader")
local mail = require("spec.support.mail")

-- Every (msg, where) of a path, as a list of { msg, where }.
local function all(path, opts)
  local it = assert(bounce.messages(path, opts))
  local out = {}
  for msg, where in it do out[#out + 1] = { msg = msg, where = where } end
  return out
end

local function msgs_of(list)
  local t = {}
  for i, x in ipairs(list) do t[i] = x.msg end
  return t
end

-- What an mbox holds, found without streaming: "From " at the start of the
-- file or after a blank line starts a message, and so does a "From " line
-- that reads as an envelope (a sender, then an asctime date) without a
-- blank line before it; the blank line before it ends the previous one;
-- ">From " lines lose one ">".
local function reference(s)
  local starts, pos = {}, 1
  if s:sub(1, 5) == "From " then starts[1] = { 1, 1 } end
  while true do
    local a = s:find("\nFrom ", pos, true)
    if not a then break end
    local blank = s:sub(a - 1, a - 1) == "\n" and a - 1 or
                  (s:sub(a - 2, a - 1) == "\n\r" and a - 2) or nil
    local eol = s:find("\n", a + 1, true)
    if blank then
      starts[#starts + 1] = { blank + 1, a + 1 }   -- end of the previous message + 1, "From "
    elseif eol and s:sub(a + 6, eol - 1):find("^%S+%s+%a%a%a %a%a%a +%d%d? %d%d:%d%d") then
      starts[#starts + 1] = { a + 1, a + 1 }
    end
    pos = a + 1
  end
  local out = {}
  for k, st in ipairs(starts) do
    local eol = s:find("\n", st[2], true) or #s
    local stop = starts[k + 1] and starts[k + 1][1] - 1 or #s
    if not starts[k + 1] then   -- the blank line that closes the last message
      local tail = s:sub(1, stop):match("\n\r?\n$")
      if tail then stop = stop - #tail + 1 end
    end
    local m = s:sub(eol + 1, math.max(stop, eol))
    m = m:gsub("\n>(>*From )", "\n%1"):gsub("^>(>*From )", "%1")
    out[#out + 1] = m
  end
  return out
end

describe("bounce.messages", function()
  local dir
  before_each(function() dir = mail.tmpdir() end)
  after_each(function() mail.cleanup() end)

  it("is the reader module's function", function()
    assert.equals(reader.messages, bounce.messages)
  end)

  it("gives a file that is not an mbox as one message, byte for byte", function()
    local text = mail.dsn{ rcpt = "ann@example.org", status = "5.1.1",
                           diag = "550 5.1.1 user unknown", eol = "\r\n" }
    local list = all(mail.write(dir .. "/one.eml", text))
    assert.equals(1, #list)
    assert.equals(text, list[1].msg)
    local w = list[1].where
    assert.equals(dir .. "/one.eml", w.file)
    assert.equals("file", w.format)
    assert.equals(1, w.index)
    assert.equals(0, w.offset)
    assert.equals(#text, w.total)
  end)

  it("cuts an mbox at From lines after a blank line and undoes the >From escapes", function()
    local box = "From a@example.net Mon Mar  3 10:00:00 2025\n" ..
      "Subject: one\n\n>From here on, escaped after a blank line.\n" ..
      ">>From twice\nFrom not after a blank line\n\n" ..
      "From b@example.net Mon Mar  3 10:00:01 2025\nSubject: two\n\nbody\n\n"
    local list = all(mail.write(dir .. "/box", box))
    assert.same({
      "Subject: one\n\nFrom here on, escaped after a blank line.\n" ..
        ">From twice\nFrom not after a blank line\n",
      "Subject: two\n\nbody\n",
    }, msgs_of(list))
    assert.equals("mbox", list[1].where.format)
    assert.equals(0, list[1].where.offset)
    assert.equals("a@example.net Mon Mar  3 10:00:00 2025", list[1].where.envelope)
    assert.equals(box:find("From b@", 1, true) - 1, list[2].where.offset)
    assert.equals(2, list[2].where.index)
  end)

  it("cuts at an envelope From line that no blank line precedes, not at other From lines", function()
    -- some writers leave the blank line out; a body line "From here on" stays
    local box = "From a@example.net Mon Mar  3 10:00:00 2025\nSubject: one\n\nbody\nFrom here on, text.\n" ..
      "From double-bounce@example.net  Thu Jul  2 12:05:05 2020\nSubject: two\n\nbody\n"
    for _, chunk in ipairs({ 16, 17, 64, 65536 }) do
      local list = all(mail.write(dir .. "/nb", box), { chunk = chunk })
      assert.same({ "Subject: one\n\nbody\nFrom here on, text.\n", "Subject: two\n\nbody\n" }, msgs_of(list))
      assert.equals("double-bounce@example.net  Thu Jul  2 12:05:05 2020", list[2].where.envelope)
    end
  end)

  it("reads an mbox with CRLF line ends, keeping them in the messages", function()
    local box = "From a Mon\r\nSubject: one\r\n\r\nx\r\n\r\nFrom b Tue\r\nSubject: two\r\n\r\ny\r\n\r\n"
    local list = all(mail.write(dir .. "/crlf", box))
    assert.same({ "Subject: one\r\n\r\nx\r\n", "Subject: two\r\n\r\ny\r\n" }, msgs_of(list))
    assert.equals("b Tue", list[2].where.envelope)
  end)

  it("keeps a last message that has no trailing newline", function()
    local list = all(mail.write(dir .. "/nonl", "From a\nA: 1\n\nx\n\nFrom b\nB: 2\n\nlast line"))
    assert.same({ "A: 1\n\nx\n", "B: 2\n\nlast line" }, msgs_of(list))
  end)

  it("gives the same messages whatever the chunk size, as a whole-file reading does", function()
    local pieces = { "From x\n", "From y\r\n", "\n", "\r\n", "a", ">From ", "From ", "\n\n",
                     "\r\n\r\n", "text\n", ">>From q\n", "\r", "From e@x Thu Jul  2 12:05:05 2020\n",
                     "From e@x Thu Jul  2 12:05:05 2020\r\n", "From here on Mon" }
    local seed = 12345
    local function rand(n)   -- a small LCG: the same cases on every Lua
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    for _ = 1, 60 do
      local t = { "From start\n" }
      for _ = 1, rand(50) do t[#t + 1] = pieces[rand(#pieces)] end
      local box = table.concat(t)
      local path = mail.write(dir .. "/r", box)
      local want = reference(box)
      for _, chunk in ipairs({ 16, 17, 19, 23, 64, 65536 }) do
        assert.same(want, msgs_of(all(path, { chunk = chunk })), ("%q, chunk %d"):format(box, chunk))
      end
    end
  end)

  it("reads a maildir's cur/ and new/ in name order, not tmp/ or dot files", function()
    for _, d in ipairs({ "cur", "new", "tmp" }) do os.execute("mkdir -p '" .. dir .. "/md/" .. d .. "'") end
    mail.write(dir .. "/md/new/1700000002.M2.host", "B: 2\n\ntwo\n")
    mail.write(dir .. "/md/cur/1700000001.M1.host:2,S", "A: 1\n\none\n")
    mail.write(dir .. "/md/cur/1700000003.M3.host:2,", "From: c\n\nthree\n")
    mail.write(dir .. "/md/tmp/1700000000.M0.host", "in delivery\n")
    mail.write(dir .. "/md/new/.hidden", "not a message\n")
    local list = all(dir .. "/md")
    assert.same({ "A: 1\n\none\n", "B: 2\n\ntwo\n", "From: c\n\nthree\n" }, msgs_of(list))
    assert.equals(dir .. "/md/new/1700000002.M2.host", list[2].where.file)
    assert.equals(dir .. "/md", list[2].where.source)
    assert.equals("maildir", list[2].where.format)
    assert.equals(2, list[2].where.index)
    assert.equals(3, list[2].where.count)
  end)

  it("reads a folder of files (no cur/ or new/): each a message or an mbox, by name", function()
    os.execute("mkdir -p '" .. dir .. "/saved/sub'")
    mail.write(dir .. "/saved/b.eml", "B: 2\n\ntwo\n")
    mail.write(dir .. "/saved/a.mbox", mail.mbox({ "A: 1\n\none\n", "A: 2\n\nuno\n" }))
    mail.write(dir .. "/saved/.hidden", "not a message\n")
    mail.write(dir .. "/saved/sub/c.eml", "C: 3\n\nnot read: a subdirectory\n")
    local list = all(dir .. "/saved")
    assert.same({ "A: 1\n\none\n", "A: 2\n\nuno\n", "B: 2\n\ntwo\n" }, msgs_of(list))
    assert.same({ "mbox", 2, 1, 2 }, { list[2].where.format, list[2].where.index,
                                      list[2].where.file_index, list[2].where.count })
    assert.same({ dir .. "/saved/b.eml", dir .. "/saved", "file", 2 },
                { list[3].where.file, list[3].where.source, list[3].where.format, list[3].where.file_index })
    os.execute("mkdir -p '" .. dir .. "/empty'")
    assert.same({}, all(dir .. "/empty"))
  end)

  it("skips a message over opts.max with an error and goes on", function()
    local big = "Subject: big\n\n" .. ("0123456789abcdef\n"):rep(100)
    local box = mail.mbox({ "Subject: small\n\nx\n", big, "Subject: after\n\ny\n" })
    local list = all(mail.write(dir .. "/big", box), { max = 1000, chunk = 64 })
    assert.equals(3, #list)
    assert.equals("Subject: small\n\nx\n", list[1].msg)
    assert.is_false(list[2].msg)
    assert.equals("message too long: " .. #big .. " bytes (limit 1000)", list[2].where.error)
    assert.equals(2, list[2].where.index)
    assert.equals("Subject: after\n\ny\n", list[3].msg)
    -- a single file over the limit too
    local one = all(mail.write(dir .. "/one", big), { max = 1000 })
    assert.equals(1, #one)
    assert.is_false(one[1].msg)
    assert.matches("message too long", one[1].where.error)
  end)

  it("reads an open file, such as stdin, named by opts.name", function()
    local path = mail.write(dir .. "/h", mail.mbox({ "A: 1\n\nx\n", "B: 2\n\ny\n" }))
    local f = assert(io.open(path, "rb"))
    local list = all(f, { name = "stdin" })
    assert.same({ "A: 1\n\nx\n", "B: 2\n\ny\n" }, msgs_of(list))
    assert.equals("stdin", list[1].where.file)
    assert.equals("file", io.type(f))   -- the caller's file is left open
    f:close()
  end)

  it("gives messages that bounce.parse reads, one result per recipient", function()
    local box = mail.mbox({
      mail.dsn{ rcpt = "ann@example.org", status = "5.1.1", diag = "550 5.1.1 user unknown" },
      mail.dsn{ rcpt = "bob@example.org", status = "4.2.2", diag = "452 4.2.2 mailbox full",
                eol = "\r\n" },
    })
    local got = {}
    for msg in assert(bounce.messages(mail.write(dir .. "/dsn.mbox", box))) do
      local r = assert(bounce.parse(msg))
      got[#got + 1] = r[1].rcpt .. " " .. r[1].reason .. " " .. r[1].type
    end
    assert.same({ "ann@example.org userunknown hard", "bob@example.org mailboxfull soft" }, got)
  end)

  it("returns nil and a message naming the path when it cannot be read", function()
    local it, err = bounce.messages(dir .. "/missing")
    assert.is_nil(it)
    assert.matches(dir .. "/missing", err, 1, true)
  end)

  it("raises on arguments of the wrong type", function()
    assert.has_error(function() bounce.messages(42) end,
      "bad argument #1 to 'messages' (string or file expected, got number)")
    assert.has_error(function() bounce.messages(dir, "fast") end,
      "bad argument #2 to 'messages' (table expected, got string)")
    assert.has_error(function() bounce.messages(dir, { max = 0 }) end,
      "bad argument #2 to 'messages' (field 'max': positive integer expected, got 0)")
    assert.has_error(function() bounce.messages(dir, { chunk = 8 }) end,
      "bad argument #2 to 'messages' (field 'chunk': at least 16 bytes expected, got 8)")
  end)

  -- Writes a mailbox of 200 MB (200 blocks of 1 MiB of ~3 KB DSNs) with a
  -- 24 MB message in the middle; returns how many messages a block holds.
  -- The big strings are locals of this function: gone when it returns, so
  -- they do not count in the heap measured after it.
  local function write_big(path)
    local msg = mail.dsn{ rcpt = "ann@example.org", status = "5.1.1", diag = "550 5.1.1 user unknown" } ..
      ("A line of the returned message, as long as an ordinary line of text.\n"):rep(20)
    local entry = "From MAILER-DAEMON Mon Mar  3 10:00:00 2025\n" .. msg .. "\n"
    local per_block = math.floor(1048576 / #entry)
    local block = entry:rep(per_block)
    local mib = (("x"):rep(1023) .. "\n"):rep(1024)
    local f = assert(io.open(path, "wb"))
    for _ = 1, 100 do f:write(block) end
    f:write("From someone Mon Mar  3 10:00:00 2025\nSubject: huge\n\n")
    for _ = 1, 24 do f:write(mib) end
    f:write("\n")
    for _ = 1, 100 do f:write(block) end
    assert(f:close())
    return per_block
  end

  -- 200 MB: big enough that holding the mailbox, or the 24 MB message over
  -- the limit, would show plainly in the heap; small enough to write and read
  -- in about 2 s per interpreter on this machine. The reading runs in a fresh
  -- interpreter of the same kind: in this one, the other specs' live data
  -- sets the collector's pace, and with it how much garbage may pile up.
  it("keeps memory flat on a 200 MB mbox, skipping a 24 MB message over a 1 MiB limit without holding it", function()
    local path = dir .. "/big.mbox"
    local per_block = write_big(path)
    local script = mail.write(dir .. "/count.lua", [[
      package.path = "./lua/?.lua;" .. package.path
      local reader = require("bounce.reader")
      collectgarbage()
      collectgarbage()
      local before = collectgarbage("count")
      local n, skipped, peak, bytes, err = 0, 0, 0, 0, nil
      for m, where in assert(reader.messages(arg[1], { max = 1048576 })) do
        if m then n, bytes = n + 1, bytes + #m else skipped, err = skipped + 1, where.error end
        local kb = collectgarbage("count")
        if kb > peak then peak = kb end
      end
      print(n, skipped, bytes, math.floor(peak - before), err)
    ]])
    local lua = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")
    local p = assert(io.popen(lua .. " '" .. script .. "' '" .. path .. "'"))
    local out = p:read("*a")
    p:close()
    local n, skipped, bytes, grew, err = out:match("^(%d+)\t(%d+)\t(%d+)\t(%-?%d+)\t([^\n]*)")
    assert.is_not_nil(n, out)
    assert.equals(200 * per_block, tonumber(n))
    assert.equals(1, tonumber(skipped))
    assert.equals("message too long: " .. (#"Subject: huge\n\n" + 24 * 1048576) .. " bytes (limit 1048576)", err)
    assert.is_true(tonumber(bytes) > 190 * 1048576)
    -- the heap grew by a few chunks and messages, not by the mailbox
    assert.is_true(tonumber(grew) < 16 * 1024, ("heap grew by %s KiB"):format(grew))
  end)
end)
