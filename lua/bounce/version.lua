-- bounce.version: `_VERSION` for the Lua modules that do their work without
-- bounce.core (readers, encoders, the nginx template, the webhook
-- normaliser, the shared-dict store) and so must load in a Lua that has no
-- build of the C module on its path: a spec's or a benchmark's helper
-- process, a plain-Lua host that only reads mailboxes. The version is
-- bounce.core's, read when first asked for, then kept in the module table.
-- Modules that need bounce.core anyway copy `core._VERSION` at load instead.
--
--   local _M = require("bounce.version").lazy({})
--   _M._VERSION   --> bounce.core._VERSION (raises if bounce.core is not installed)

local require, setmetatable, rawset = require, setmetatable, rawset

local LAZY = {
  __index = function(t, k)
    if k ~= "_VERSION" then return nil end
    local v = require("bounce.core")._VERSION
    rawset(t, k, v)
    return v
  end,
}

local _M = setmetatable({}, LAZY)

-- syntax: m = version.lazy(m)   -- m gets _VERSION on first read; returns m
function _M.lazy(m)
  return setmetatable(m, LAZY)
end

return _M
