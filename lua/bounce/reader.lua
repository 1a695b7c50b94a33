-- bounce.reader: the messages of a file, an mbox or a maildir, streamed.
--
-- One message at a time is held in memory. Files are read in chunks (64 KiB
-- by default) and an mbox is cut at its "From " lines as the chunks go by, so
-- memory stays flat however large the mailbox; a message over the limit is
-- counted and skipped as it streams past, never held whole. Plain Lua (5.1,
-- 5.3, 5.4, LuaJIT); listing a maildir runs `find` through io.popen.

local io, type, error, tostring, ipairs, setmetatable, floor =
  io, type, error, tostring, ipairs, setmetatable, math.floor
local find, sub, byte, gsub, format, concat, sort =
  string.find, string.sub, string.byte, string.gsub, string.format, table.concat, table.sort

local _M = require("bounce.version").lazy({})

-- bounce.parse refuses messages over 64 MiB (BNC_MSG_MAX in src/message.h):
-- by default the reader skips them before they are read whole.
_M.LIMIT = 64 * 1024 * 1024
_M.CHUNK = 65536

local EISDIR = 21
-- An envelope line after "From ": a sender, then an asctime date
-- ("MAILER-DAEMON  Thu Jul  2 12:05:05 2020").
local ENVELOPE = "^%S+%s+%a%a%a %a%a%a +%d%d? %d%d:%d%d"
local BODY, FROM, DONE = 1, 2, 3

local function argerr(n, msg)
  error("bad argument #" .. n .. " to 'messages' (" .. msg .. ")", 3)
end

-- The mboxrd escape: a line ">From ", ">>From ", ... loses one ">". (An
-- mboxo file escapes only "From "; its ">From " lines come out the same.)
local function unescape(msg)
  if not find(msg, ">From ", 1, true) then return msg end
  msg = gsub(msg, "\n>(>*From )", "\n%1")
  if byte(msg, 1) == 62 then msg = gsub(msg, "^>(>*From )", "%1") end
  return msg
end

-- Reads one stream (a file or a handle) whose first chunk is `first`; cut
-- at "From " lines when `mbox`. Returns a step function giving msg, where
-- per message (msg false when it was skipped: where.error says why), then
-- nil. `proto` holds the location fields shared by its messages. The file
-- is closed at the end when `own`.
local function stream(fh, own, first, mbox, proto, o)
  local max, csize = o.max, o.chunk
  -- The bytes in hand are buf[1], not an upvalue: under Lua 5.4, with each
  -- chunk stored in an upvalue (a forward barrier marks it at once), skipping
  -- a 64 MiB message was seen to grow the heap by as much; with a table field
  -- (a backward barrier) the old chunks die young and the heap stays flat.
  local buf, base = { first or "" }, 0   -- buf[1] starts at byte `base` of the file
  -- i: the next byte of the message (or of the From line, past "From ");
  -- scan: where to look for the next "\nFrom ".
  local i, scan = mbox and 6 or 1, 1
  local state = mbox and FROM or BODY
  local eof = first == nil
  local parts, np, psize, skipping = {}, 0, 0, false
  local index, offset, envelope, failed = 0, 0, "", nil

  local function close()
    state = DONE
    if own then fh:close() end
  end

  -- buf[1][i..j] belongs to the current message.
  local function commit(j)
    if j < i then return end
    local n = j - i + 1
    if not skipping and psize + n > max then
      skipping = true
      for k = 1, np do parts[k] = nil end
      np = 0
    end
    if not skipping then
      np = np + 1
      parts[np] = sub(buf[1], i, j)
    end
    psize = psize + n
    i = j + 1
  end

  -- The current message ends at buf[1][j].
  local function finish(j)
    commit(j)
    index = index + 1
    local where = { file = proto.file, source = proto.source, format = proto.format,
                    index = proto.index or index, offset = offset, size = psize,
                    total = proto.total, count = proto.count, file_index = proto.file_index,
                    envelope = mbox and envelope or nil }
    local msg = false
    if skipping then
      where.error = format("message too long: %d bytes (limit %d)", psize, max)
    else
      msg = np == 1 and parts[1] or concat(parts, "", 1, np)
      if mbox then msg = unescape(msg) end
    end
    for k = 1, np do parts[k] = nil end
    np, psize, skipping = 0, 0, false
    return msg, where
  end

  -- Reads the next chunk, keeping the bytes not yet consumed plus two
  -- before them (a separator is "\n" + a blank line + "From ").
  local function refill()
    local chunk, err = fh:read(csize)
    if not chunk then
      eof = true
      if err then failed = tostring(err) end
      return
    end
    local cut = (i < scan and i or scan) - 2
    if cut < 1 then cut = 1 end
    base = base + cut - 1
    buf[1] = sub(buf[1], cut) .. chunk
    i, scan = i - cut + 1, scan - cut + 1
  end

  local function step()
    while true do
      if failed then
        index = index + 1
        close()
        return false, { file = proto.file, source = proto.source, format = proto.format,
                        index = proto.index or index, offset = offset, total = proto.total,
                        count = proto.count, file_index = proto.file_index,
                        error = proto.file .. ": read error: " .. failed }
      end
      local data = buf[1]
      if state == BODY then
        local s, stop, pending = mbox and find(data, "\nFrom ", scan, true), nil, nil
        while s do
          local b1 = byte(data, s - 1)
          if b1 == 10 then stop = s - 1
          elseif b1 == 13 and byte(data, s - 2) == 10 then stop = s - 2
          else
            -- no blank line before it (some writers leave it out): a
            -- separator only when the line reads as an envelope
            local e = find(data, "\n", s + 6, true)
            if not e and not eof and #data - s < 1000 then pending = s break end
            if e and e - s < 1000 and find(sub(data, s + 6, e - 1), ENVELOPE) then stop = s end
          end
          if stop then break end
          s = find(data, "\nFrom ", s + 1, true)
        end
        if pending then   -- the rest of that line is in the next chunk
          commit(pending - 1)
          scan = pending
          refill()
        elseif s then
          local msg, where = finish(stop)
          state, i, scan, offset, envelope = FROM, s + 6, s + 6, base + s, ""
          return msg, where
        elseif eof then
          local j = #data
          if mbox and byte(data, j) == 10 then  -- the blank line closing the last message
            if byte(data, j - 1) == 10 then j = j - 1
            elseif byte(data, j - 1) == 13 and byte(data, j - 2) == 10 then j = j - 2 end
          end
          close()
          return finish(j)
        else
          commit(#data - 8)
          if scan < #data - 4 then scan = #data - 4 end
          if scan < i - 1 then scan = i - 1 end   -- i - 1: an envelope line's end
          refill()
        end
      elseif state == FROM then
        local e = find(data, "\n", i, true)
        if #envelope < 1000 then envelope = envelope .. sub(data, i, (e or #data + 1) - 1) end
        if e or eof then
          envelope = gsub(sub(envelope, 1, 1000), "\r$", "")
          -- scan from the envelope's own line end: an envelope line right
          -- after it starts the next message (this one is empty)
          state, i, scan = BODY, (e or #data) + 1, e or #data + 1
        else
          i, scan = #data + 1, #data + 1   -- the rest of a long From line
          refill()
        end
      else
        return nil
      end
    end
  end
  return step
end

-- Opens `path` (or uses the handle) and reads its first chunk. Returns the
-- handle and the chunk (nil when empty); or nil, nil, err; or "dir".
local function open(path, csize)
  local fh = path
  if type(path) == "string" then
    local err
    fh, err = io.open(path, "rb")
    if not fh then return nil, nil, err end
  end
  local first, rerr, code = fh:read(csize)
  if not first and rerr then
    if fh ~= path then fh:close() end
    if code == EISDIR then return "dir" end
    return nil, nil, (type(path) == "string" and path .. ": " or "") .. tostring(rerr)
  end
  return fh, first
end

local function size_of(fh)
  local here = fh:seek()
  local n = here and fh:seek("end")
  if n then fh:seek("set", here) end
  return n
end

local function quote(s)
  return "'" .. gsub(s, "'", "'\\''") .. "'"
end

local function is_dir(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local _, _, code = f:read(1)
  f:close()
  return code == EISDIR
end

-- The message files of a maildir (cur/ and new/; tmp/ holds deliveries in
-- progress, and names starting with "." are not messages), sorted by name
-- (maildir names begin with the delivery time), then cur/ before new/.
-- A directory without cur/ or new/ is a folder of files (one message or an
-- mbox each, such as saved .eml files): its own files, sorted by name;
-- the second value says which.
local function maildir_files(dir)
  local subs, plain = {}, false
  for _, s in ipairs({ "cur", "new" }) do
    if is_dir(dir .. "/" .. s) then subs[#subs + 1] = quote(dir .. "/" .. s) end
  end
  if #subs == 0 then
    subs[1], plain = quote(dir), true
  end
  local p = io.popen("find " .. concat(subs, " ") .. " -mindepth 1 -maxdepth 1 -type f -print0")
  local out = p and p:read("*a")
  if p then p:close() end
  if not out then return nil, dir .. ": cannot list the directory" end
  local files = {}
  for f in out:gmatch("([^%z]+)%z") do
    local d, name = f:match("^(.*/)([^/]*)$")
    if sub(name, 1, 1) ~= "." then files[#files + 1] = { d, name } end
  end
  sort(files, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[1] < b[1]
  end)
  return files, plain
end

-- The messages of the files of a maildir or, when plain, a folder of files.
-- where.index is the file's place in a maildir; in a folder, a file is read
-- as it would be alone (an mbox's index counts its messages), and
-- where.file_index gives the file's place (where.count: how many files).
local function maildir(dir, files, plain, o)
  local n, k, step = #files, 0, nil
  return function()
    while true do
      if step then
        local msg, where = step()
        if msg ~= nil then return msg, where end
        step = nil
      end
      k = k + 1
      if k > n then return nil end
      local path = files[k][1] .. files[k][2]
      local proto = { file = path, source = dir, format = "maildir", index = k, count = n }
      if plain then proto.format, proto.file_index = "file", k end
      local fh, first, err = open(path, o.chunk)
      if fh == "dir" then err = path .. ": a directory" end
      if not fh or fh == "dir" then
        proto.offset, proto.error = 0, err
        return false, proto
      end
      local mbox = plain and first ~= nil and sub(first, 1, 5) == "From "
      if mbox then proto.format, proto.index = "mbox", nil end
      proto.total = size_of(fh)
      step = stream(fh, true, first, mbox, proto, o)
    end
  end
end

local function check_opts(opts)
  local o = { max = _M.LIMIT, chunk = _M.CHUNK, name = nil }
  if opts == nil then return o end
  if type(opts) ~= "table" then argerr(2, "table expected, got " .. type(opts)) end
  for _, k in ipairs({ "max", "chunk" }) do
    local v = opts[k]
    if v ~= nil then
      if type(v) ~= "number" or v < 1 or v ~= floor(v) then
        argerr(2, "field '" .. k .. "': positive integer expected, got " .. tostring(v))
      end
      o[k] = v
    end
  end
  if o.chunk < 16 then argerr(2, "field 'chunk': at least 16 bytes expected, got " .. o.chunk) end
  if opts.name ~= nil and type(opts.name) ~= "string" then
    argerr(2, "field 'name': string expected, got " .. type(opts.name))
  end
  o.name = opts.name
  return o
end

-- syntax: iter, err = reader.messages(path_or_file [, opts])
--   for msg, where in iter do ... end
-- path: a maildir (a directory with cur/ or new/), an mbox (a file whose
-- first line starts with "From "), a single message, or a directory of
-- such files (its own files, by name; not its subdirectories); or an open
-- file (io.stdin), read the same way. opts.max: bytes per message (default
-- 64 MiB, the parser's limit); opts.chunk: bytes per read (64 KiB);
-- opts.name: the name given to a file handle in locations ("stdin").
-- Each step gives the raw message and where it was: { file, source, format
-- ("mbox", "maildir", "file"), index (1-based), offset (byte of its "From "
-- line in an mbox, else 0), size, total (the file's bytes, when known),
-- count (messages in a maildir), envelope (the mbox "From " line's text) }.
-- A message over opts.max, or one that cannot be read, gives msg = false and
-- where.error; the iteration goes on. An unreadable path returns nil, err
-- naming it; a wrong argument type raises.
function _M.messages(path, opts)
  local tp = type(path)
  if tp ~= "string" and io.type(path) ~= "file" then
    argerr(1, "string or file expected, got " .. (tp == "userdata" and "closed file" or tp))
  end
  local o = check_opts(opts)
  local fh, first, err = open(path, o.chunk)
  if not fh then return nil, err end
  local name = tp == "string" and path or o.name or "stream"
  if fh == "dir" then
    local files, plain = maildir_files(path)
    if not files then return nil, plain end
    return maildir(path, files, plain, o)
  end
  local mbox = first ~= nil and sub(first, 1, 5) == "From "
  local proto = { file = name, source = name, format = mbox and "mbox" or "file",
                  total = size_of(fh) }
  if not mbox then proto.index = 1 end
  local own = tp == "string"
  local step = stream(fh, own, first, mbox, proto, o)
  -- Lua 5.4 closes the file when a for loop is left early (the 4th value).
  local closer = setmetatable({}, { __close = function()
    if own and io.type(fh) == "file" then fh:close() end
  end })
  return step, nil, nil, closer
end

return _M
