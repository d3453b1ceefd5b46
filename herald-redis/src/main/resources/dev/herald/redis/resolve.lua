-- Finds out what became of a publish call whose answer was lost (see publish.lua): answers its
-- request key's value, or, when there is none, sets it to '' so that the call, if it still
-- reaches Redis, stores nothing: then nil is final, the call stored nothing.
-- KEYS: the request key. ARGV: its expiry (ms), '1' to write the key again when found (so that
-- a WAIT after this script, on this connection, covers the call's writes: see minReplicas).
-- Returns the call's outcome (as publish.lua answers it) if it ran, else '' or nil.
local v = redis.call('GET', KEYS[1])
if v then
  if ARGV[2] == '1' and v ~= '' then
    redis.call('SET', KEYS[1], v, 'PX', ARGV[1])
  end
  return v
end
redis.call('SET', KEYS[1], '', 'PX', ARGV[1])
return false
