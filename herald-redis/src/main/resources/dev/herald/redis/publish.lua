-- Appends a batch (see append.lua) under a request key (see recorded), atomically: an attempt that
-- already ran answers its first outcome and stores nothing again.
-- KEYS: the request key, then append's K. ARGV: the request key's expiry (ms), then append's A.
-- Returns append's reply, or {'fenced'}.
local earlier = recorded(KEYS[1])
if earlier then
  return earlier
end
local K, A = {}, {}
for i = 2, #KEYS do
  K[#K + 1] = KEYS[i]
end
for i = 2, #ARGV do
  A[#A + 1] = ARGV[i]
end
local result = append(K, A)
remember(KEYS[1], ARGV[1], result)
return result
