-- policies/default.lua: the default policy of bounce, and a guide to writing one.
--
-- A policy is a Lua file that returns one table. Every key is optional: leave one
-- out and its value below applies. This file is where those values live:
-- bounce.policy loads it (in the same sandbox as any policy) when it is loaded,
-- and keeps no copy of them; installed, it sits beside the Lua modules as
-- bounce/policies/default.lua. It must give every key a value and hold no
-- overrides or hook, which other policies would not inherit. Load a policy with
--     local p = assert(require("bounce.policy").load("policies/mine.lua"))
-- or hand the path to bounce.tracker{ policy = "policies/mine.lua" }, which picks up
-- edits while it runs and keeps the old policy if an edit is broken.
--
-- The file runs in a sandbox: string, math, table, pairs, ipairs, type, tostring,
-- tonumber, select, error, assert, pcall are there; io, os, require, load and debug
-- are not, and setting a global is an error (use `local`).
--
-- Durations are a number of seconds or a string with units: s (seconds), m
-- (minutes), h (hours), d (days), w (weeks), combined as in "1h30m"; "forever" where
-- a retention allows it. A mistake names the file, the key, the value and what was
-- expected, e.g.  policies/mine.lua: soft.max_attempts: expected an integer 1..1000, got -3

return {
  -- Soft bounces: temporary failures (mailbox full, server busy, greylisting). The
  -- address stays, and the message is retried later. Mail operators commonly wait
  -- 5-10 minutes before the first retry, then spread retries out to a day apart,
  -- and give up after 3-5 failures in a row or about 3 days of failing.
  soft = {
    -- Consecutive soft bounces that suppress the address (1..1000). A delivery
    -- ends the streak and starts the count again.
    max_attempts = 5,
    -- A streak that has lasted this long since its first failure also suppresses,
    -- whichever comes first (1m..365d, or "forever" to judge by count alone).
    window = "72h",
    -- A streak ends with a delivery, or when no soft bounce has come for this long
    -- (1h..3650d): the next soft bounce starts a new streak at 1. Soft bounces
    -- closer together than this add up, across campaigns: a weekly newsletter to
    -- a full mailbox counts 1, 2, 3, ... and its second failure is already a week
    -- into the streak, past the window.
    reset_after = "30d",
    -- Waits before retry 1, 2, 3, ... (each 1s..30d, 1..100 steps). Past the end of
    -- the list the last step repeats: retry 6 and on wait 24h.
    backoff = { "10m", "30m", "2h", "8h", "24h" },
    -- Or exponential: first * factor^(n-1), capped at max, spread by +-jitter
    -- (a fraction 0..1) so many retries do not land at the same second:
    --   backoff = { first = "5m", factor = 2, max = "24h", jitter = 0.1 },
    -- where factor (1..10) is 2, max 24h and jitter 0 when left out.
    --
    -- permanent_max_attempts (1..1000, default: max_attempts) counts a soft bounce
    -- whose reply was permanent (a 5xx such as "552 5.2.2 mailbox full") against a
    -- lower limit; 1 suppresses on the first one (see policies/strict.lua).
  },

  -- Hard bounces suppress at once. A hard reason said with a temporary (4xx) code,
  -- such as Postfix's "450 4.1.1 <a@b>: Recipient address rejected: unverified
  -- address" while it verifies the recipient, is not final (RFC 5321 4.2.1):
  -- transient = "soft" retries it as a soft bounce (it counts in the streak),
  -- "suppress" treats it as the hard bounce its reason says.
  hard = {
    transient = "soft",
  },

  -- Blocks: the receiver refuses the sender (rate limits, blocklists, reputation),
  -- not the address. A block never suppresses the address; it holds sending to
  -- that address for a while, by this backoff (either form, as for soft).
  block = {
    backoff = { "15m", "1h", "4h" },
  },

  -- How long a suppression lasts, by its cause (1d..3650d, or "forever"). When it
  -- runs out the address is active again, with a clean record.
  retention = {
    hard = "forever",        -- the address does not exist: keep it off the list
    soft = "30d",            -- too many soft bounces: try again after 30-90 days
    complaint = "forever",   -- the recipient reported the mail as spam
    unsubscribe = "forever", -- the recipient asked to stop
    manual = "forever",      -- suppressed by hand
    -- a hard bounce for reason hostunknown (no such domain, or no MX and no
    -- address) marks the whole domain dead this long: t:check refuses every
    -- address there, until a delivery to one of them or t:release(domain). A
    -- domain that lapsed may be registered again, so not forever.
    domain = "30d",
  },

  -- Overrides per bounce reason (the names of bounce.reasons). An entry takes the
  -- soft keys directly (max_attempts, window, backoff, permanent_max_attempts), and
  -- may add block = { backoff = ... } and retention = { ... }:
  --   reasons = {
  --     mailboxfull = { max_attempts = 3, backoff = { "1h", "6h", "24h" } },
  --     toomanyconn = { block = { backoff = { "5m", "15m", "1h" } } },
  --   },
  -- (None here: the defaults hold no overrides.)
  reasons = {},

  -- Overrides per recipient domain (compared in lower case). An entry holds soft,
  -- block, retention and its own reasons. The most specific setting wins:
  --   the top level < reasons[reason] < domains[domain] < domains[domain].reasons[reason]
  -- A backoff is always replaced whole.
  --   domains = {
  --     ["example.com"] = { soft = { max_attempts = 8 },
  --                         reasons = { mailboxfull = { max_attempts = 2 } } },
  --   },
  domains = {},

  -- Sending health, judged per scope (a domain, a campaign, a sender) over `window`:
  -- the share of sent messages that hard-bounced or drew a complaint. A rate at or
  -- above a threshold reaches that level; the worse of the two rates counts. Fewer
  -- than min_sent messages are not judged. Rates are fractions 0..1, ordered
  -- caution <= throttle <= stop. Common practice: under 0.5% hard bounces is
  -- healthy, 0.5-2% calls for caution, 2-5% for slowing down, above 5% for stopping;
  -- complaints should stay under 0.1% and stop at 0.3%.
  health = {
    min_sent = 100,
    window = "24h",
    hard = { caution = 0.005, throttle = 0.02, stop = 0.05 },
    complaint = { caution = 0.001, stop = 0.003 },   -- throttle = ... is optional
  },

  -- Addresses are compared with the domain in lower case; the part before the @
  -- too, unless case_sensitive is true.
  addresses = { case_sensitive = false },

  -- Optional: called after each event with the decision the policy made; return
  -- the decision to use (the same table, changed or not).
  --   on_event = function(event, record, decision) return decision end,
}
