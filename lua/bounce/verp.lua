-- bounce.verp: variable envelope return paths. A sender that gives every
-- recipient its own return path (bounces+ann=example.org@mail.example.com
-- for ann@example.org) learns from the address a bounce was sent to which
-- recipient failed, even when the bounce names another address (a forward
-- it went on to) or none that can be read.
--
--   local verp = require("bounce").verp
--   verp.encode("ann@example.org", "bounces+", "mail.example.com")
--     --> "bounces+ann=example.org@mail.example.com"
--   verp.decode("bounces+ann=example.org@mail.example.com", "bounces+")
--     --> "ann@example.org"
--   verp.find(raw_bounce, "bounces+")   --> the recipient, from the message
--   bounce.parse(raw_bounce, { verp = "bounces+" })   --> results with verp_rcpt
--
-- The recipient's '@' becomes '=' after the prefix (the layout of Postfix,
-- qmail and Exim); decoding splits at the last '=', since a domain holds
-- none, so a local part with '=' in it comes back whole. Decoding and the
-- search are C (src/address.c), shared with bounce.parse.

local type, error = type, error
local find, sub = string.find, string.sub
local core = require("bounce.core")

local _M = { _VERSION = core._VERSION }

local function argerr(fname, n, msg)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", 3)
end

-- syntax: why = verp.prefix_error(prefix)
-- What is wrong with a local-part prefix ("bounces+"), or nil when it is one.
local function bad_prefix(prefix)
  if type(prefix) ~= "string" then return "string expected, got " .. type(prefix) end
  if prefix == "" or #prefix > 64 or find(prefix, "[%z\1- @<>\127]") then
    return "a local-part prefix such as 'bounces+' expected, got '" .. prefix .. "'"
  end
end

_M.prefix_error = bad_prefix

-- RFC 5321 4.5.3.1: a local part has at most 64 octets, a path at most 256
-- with its angle brackets, so an address at most 254.
local MAX_LOCAL, MAX_PATH = 64, 254

-- syntax: addr, err = verp.encode(rcpt, prefix, domain)
-- err when rcpt is not local@domain, or when the return path would pass
-- RFC 5321's limits (a local part of 64 bytes, an address of 254).
function _M.encode(rcpt, prefix, domain)
  if type(rcpt) ~= "string" then argerr("encode", 1, "string expected, got " .. type(rcpt)) end
  local bad = bad_prefix(prefix)
  if bad then argerr("encode", 2, bad) end
  if type(domain) ~= "string" or domain == "" or find(domain, "[%z\1- @<>=\127]") then
    argerr("encode", 3, "a domain expected, got " ..
      (type(domain) == "string" and "'" .. domain .. "'" or type(domain)))
  end
  local at = find(rcpt, "@[^@]*$")
  if not at or at == 1 or at == #rcpt or find(rcpt, "[%z\1- <>\"\127]") then
    return nil, "invalid address '" .. rcpt .. "': expected local@domain"
  end
  local lp = prefix .. sub(rcpt, 1, at - 1) .. "=" .. sub(rcpt, at + 1)
  if #lp > MAX_LOCAL then
    return nil, "cannot encode '" .. rcpt .. "': the return path's local part would be " .. #lp
      .. " bytes, RFC 5321 allows " .. MAX_LOCAL
  end
  if #lp + 1 + #domain > MAX_PATH then
    return nil, "cannot encode '" .. rcpt .. "': the return path would be " .. (#lp + 1 + #domain)
      .. " bytes, RFC 5321 allows " .. MAX_PATH
  end
  return lp .. "@" .. domain
end

-- syntax: rcpt, err = verp.decode(addr, prefix)
-- addr may keep its angle brackets; the prefix is compared without regard
-- to case (some hosts lower-case the address they deliver to).
function _M.decode(addr, prefix)
  if type(addr) ~= "string" then argerr("decode", 1, "string expected, got " .. type(addr)) end
  local bad = bad_prefix(prefix)
  if bad then argerr("decode", 2, bad) end
  local rcpt, why = core.verp_decode(addr, prefix)
  if not rcpt then return nil, "'" .. addr .. "': " .. why end
  return rcpt
end

-- syntax: rcpt = verp.find(message, prefix)
-- The recipient of the first address in the message's first 256 KiB that
-- starts with prefix (after white space, '<', ':', ',', '(' or a quote)
-- and decodes: the bounce's To or Delivered-To, a Received line's
-- "for <...>", the returned message's Return-Path. nil when there is none.
function _M.find(message, prefix)
  if type(message) ~= "string" then argerr("find", 1, "string expected, got " .. type(message)) end
  local bad = bad_prefix(prefix)
  if bad then argerr("find", 2, bad) end
  return core.verp_find(message, prefix)
end

return _M
