-- spec/support/sns.lua - signs SNS envelopes the way Amazon SNS does, with a
-- key and self-signed certificate made here (lua-luaossl), for tests of
-- signature checking without Amazon.
--
--   local sns = require("spec.support.sns")
--   local pem = sns.cert_pem()                  -- serve this at the cert URL
--   sns.sign(envelope, "http://127.0.0.1:PORT/cert.pem" [, version])
local webhooks = require("bounce.webhooks")
local mime = require("mime")

local _M = {}

local key, cert
local function make()
  if key then return end
  local pkey, x509, name = require("openssl.pkey"), require("openssl.x509"), require("openssl.x509.name")
  key = pkey.new{ type = "RSA", bits = 2048 }
  cert = x509.new()
  cert:setVersion(3)
  cert:setSerial(1)
  local n = name.new()
  n:add("CN", "sns.test.invalid")
  cert:setSubject(n)
  cert:setIssuer(n)
  cert:setLifetime(os.time() - 3600, os.time() + 86400)
  cert:setPublicKey(key)
  cert:sign(key)
end

function _M.cert_pem()
  make()
  return tostring(cert)
end

-- Sets SignatureVersion, SigningCertURL and Signature on the envelope.
function _M.sign(m, url, version)
  make()
  m.SignatureVersion = tostring(version or 1)
  m.SigningCertURL = url
  local d = require("openssl.digest").new(m.SignatureVersion == "2" and "sha256" or "sha1")
  d:update(assert(webhooks.sns_string_to_sign(m)))
  m.Signature = (mime.b64(key:sign(d)))
  return m
end

return _M
