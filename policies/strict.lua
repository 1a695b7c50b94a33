-- policies/strict.lua: every permanent failure suppresses.
--
-- For senders who cannot afford to retry addresses that said no: marketing lists
-- under close watch, new IPs being warmed up. Hard bounces, complaints and
-- unsubscribes suppress at once, as always. What changes:
--   * a soft bounce with a permanent (5xx) reply, such as "552 5.2.2 mailbox full"
--     or "554 5.7.1 mailbox disabled", suppresses on the first one
--     (soft.permanent_max_attempts = 1);
--   * a hard reason under a temporary (4xx) code, such as "450 4.1.1 unverified
--     address", suppresses like the hard bounce it names (hard.transient);
--   * temporary (4xx) soft bounces get fewer tries over a shorter time;
--   * suppressions for soft bounces and dead domains last longer, and health
--     levels trip earlier.
-- Blocks still never suppress: they are about the sender, not the address.
return {
  description = "every permanent failure suppresses",
  soft = {
    max_attempts = 3,
    permanent_max_attempts = 1,
    window = "24h",
    backoff = { "15m", "1h", "4h" },
  },
  hard = { transient = "suppress" },
  -- a dead domain stays refused longer before it is tried again
  retention = { soft = "90d", domain = "90d" },
  reasons = {
    -- a suspended or expired account will not come back within a retry streak
    suspend = { max_attempts = 1 },
    expired = { max_attempts = 1 },
  },
  health = {
    min_sent = 50,
    hard = { caution = 0.003, throttle = 0.01, stop = 0.03 },
    complaint = { caution = 0.0005, stop = 0.002 },
  },
}
