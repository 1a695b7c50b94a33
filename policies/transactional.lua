-- policies/transactional.lua: receipts, password resets, alerts.
--
-- A message the recipient asked for is worth more tries, sooner, and an address
-- that soft-bounced should come back soon. Hard bounces and complaints still
-- suppress for good.
return {
  description = "transactional mail: retry hard, forgive soon",
  soft = {
    max_attempts = 8,
    window = "5d",
    -- 1m, 2m, 4m, ... doubling up to 4h, each spread by +-10%
    backoff = { first = "1m", factor = 2, max = "4h", jitter = 0.1 },
  },
  block = { backoff = { first = "5m", factor = 3, max = "2h" } },
  -- a dead domain is tried again sooner: a receipt's domain is usually fixed fast
  retention = { soft = "7d", domain = "7d" },
  reasons = {
    -- a full mailbox is often emptied within a day or two
    mailboxfull = { max_attempts = 12, window = "7d" },
    -- rate limits clear quickly: come back soon
    toomanyconn = { block = { backoff = { "1m", "5m", "15m" } } },
    speeding = { block = { backoff = { "1m", "5m", "15m" } } },
  },
  domains = {
    -- an internal relay that queues on our side: fail fast, it will retry itself
    ["relay.internal.example"] = { soft = { max_attempts = 2, backoff = { "1m" } } },
  },
  health = {
    min_sent = 200,
    hard = { caution = 0.01, throttle = 0.03, stop = 0.08 },
  },
}
