-- Appends a batch under an idempotency key, atomically: if the key was used within its window it
-- stores and announces nothing and answers the first append's ids (or a conflict when the
-- fingerprint differs); otherwise it appends (see append.lua) and remembers the key.
-- KEYS: the idempotency key, then append's K. ARGV: now (ms, the node's clock), the expiry of a
-- new key (ms, by that clock), the key's window (ms, for PX), the fingerprint, then append's A.
-- The key's value: expiry LF first id LF count LF fingerprint (the rest: it may hold anything).
-- Returns append's reply, {'replay', first id, count}, or {'conflict'}.
local idem, now, fingerprint = KEYS[1], tonumber(ARGV[1]), ARGV[4]
local known = redis.call('GET', idem)
if known then
  local expires, first, count, fp = string.match(known, '^(%d+)\n(%d+)\n(%d+)\n(.*)$')
  -- The node's clock decides (as in every log), PX only frees the memory.
  if expires and tonumber(expires) > now then
    if fp == fingerprint then
      return {'replay', first, count}
    end
    return {'conflict'}
  end
end
local K, A = {}, {}
for i = 2, #KEYS do
  K[#K + 1] = KEYS[i]
end
for i = 5, #ARGV do
  A[#A + 1] = ARGV[i]
end
local result = append(K, A)
redis.call('SET', idem, ARGV[2] .. '\n' .. result[2] .. '\n' .. fmt(#result - 1) .. '\n' .. fingerprint, 'PX', ARGV[3])
return result
