-- GCRA for one key, in one round trip: the same arithmetic as policy::gcra::Gcra::check.
--
-- Times are split into whole seconds (s), nanoseconds within the second (n, 0..1e9) and a
-- fraction of a nanosecond over the quota's count (f, 0..den), so that every number stays an
-- exact integer in Lua's doubles (below 2^53) while nanoseconds since the epoch do not.
--
-- KEYS[1]  the key's state: "s n f" (its TAT), expiring 10 s after it no longer matters
-- ARGV     den, t_s, t_n, t_f, tau_s, tau_n, tau_f, max_wait_ns, t_ms_ceil[, now_s, now_n]
--          (now from Redis TIME unless given: every gate shares Redis's clock)
-- returns  {1, 0} allowed, {2, wait_ns} admitted after a wait, {0, retry_after_ns} refused

local den = tonumber(ARGV[1])
local t_s, t_n, t_f = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tau_s, tau_n, tau_f = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local max_wait = tonumber(ARGV[8])
local t_ms = tonumber(ARGV[9])
local G = 1000000000

local now_s, now_n
if ARGV[10] then
  now_s, now_n = tonumber(ARGV[10]), tonumber(ARGV[11])
else
  local t = redis.call('TIME')
  now_s, now_n = tonumber(t[1]), tonumber(t[2]) * 1000
end

-- a < b for (s, n, f)
local function less(as, an, af, bs, bn, bf)
  if as ~= bs then return as < bs end
  if an ~= bn then return an < bn end
  return af < bf
end

local base_s, base_n, base_f = now_s, now_n, 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local s, n, f = string.match(stored, '^(%d+) (%d+) (%d+)$')
  if s then
    s, n, f = tonumber(s), tonumber(n), tonumber(f)
    local keep = not less(s, n, f, now_s, now_n, 0)
    if not keep then
      -- late by less than T (whole ns, as the Rust code compares): keep the schedule
      local ds, dn = now_s - s, now_n - n
      if dn < 0 then ds, dn = ds - 1, dn + G end
      keep = less(ds, dn, 0, t_s, t_n, 0)
    end
    if keep then base_s, base_n, base_f = s, n, f end
  end
end

-- earliest = floor(base - tau), in whole ns
local borrow = 0
if base_f < tau_f then borrow = 1 end
local e_s, e_n = base_s - tau_s, base_n - tau_n - borrow
while e_n < 0 do e_s, e_n = e_s - 1, e_n + G end

local function advance()
  local f = base_f + t_f
  local carry = 0
  if f >= den then f, carry = f - den, 1 end
  local s, n = base_s + t_s, base_n + t_n + carry
  while n >= G do s, n = s + 1, n - G end
  -- kept until TAT + T (after that a key behaves as a new one), plus 10 s of slack
  local ttl = (s - now_s) * 1000 + math.floor((n - now_n) / 1000000) + t_ms + 10000
  redis.call('SET', KEYS[1], string.format('%.0f %.0f %.0f', s, n, f), 'PX', ttl)
end

if not less(now_s, now_n, 0, e_s, e_n, 0) then
  advance()
  return {1, 0}
end
local wait = (e_s - now_s) * G + (e_n - now_n)
if wait <= max_wait then
  advance()
  return {2, wait}
end
return {0, wait}
