-- Appends a batch under an idempotency key, atomically: if the key was used within its window it
-- stores and announces nothing and answers the first append's ids (or a conflict when the
-- fingerprint differs); otherwise it appends (see append.lua) and remembers the key. Like
-- publish.lua, it runs under a request key (see recorded).
-- KEYS: the request key, the idempotency key, then append's K. ARGV: the request key's expiry (ms),
-- now (ms, the node's clock), the expiry of a new idempotency key (ms, by that clock), the key's
-- window (ms, for PX), the fingerprint, then append's A.
-- The idempotency key's value: expiry LF first id LF count LF fingerprint (the rest: it may hold
-- anything).
-- Returns append's reply, {'replay', first id, count}, {'conflict'}, or {'fenced'}.
local earlier = recorded(KEYS[1])
if earlier then
  return earlier
end
local idem, now, fingerprint = KEYS[2], tonumber(ARGV[2]), ARGV[5]
local known = redis.call('GET', idem)
if known then
  local expires, first, count, fp = string.match(known, '^(%d+)\n(%d+)\n(%d+)\n(.*)$')
  -- The node's clock decides (as in every log), PX only frees the memory.
  if expires and tonumber(expires) > now then
    if fp == fingerprint then
      -- Written again, unchanged: a WAIT after this script (minReplicas) then covers the first
      -- append, whichever connection made it.
      redis.call('SET', idem, known, 'KEEPTTL')
      return {'replay', first, count}
    end
    return {'conflict'}
  end
end
local K, A = {}, {}
for i = 3, #KEYS do
  K[#K + 1] = KEYS[i]
end
for i = 6, #ARGV do
  A[#A + 1] = ARGV[i]
end
local result = append(K, A)
redis.call('SET', idem, ARGV[3] .. '\n' .. result[2] .. '\n' .. fmt(#result - 1) .. '\n' .. fingerprint, 'PX', ARGV[4])
remember(KEYS[1], ARGV[1], result)
return result
