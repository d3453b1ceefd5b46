-- Saves device cursors, each the larger of the stored (if saved within the retention age) and the
-- given value: two nodes may save one device's cursor out of order when the device moves.
-- KEYS: the cursors' keys. ARGV: now (ms, the node's clock), cutoff (ms: a cursor saved at or
-- before it has expired), PX (ms), then the cursors, in KEYS order.
-- A cursor's value: cursor LF saved-at (ms). Returns how many it saved.
local now, cutoff, px = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i = 1, #KEYS do
  local cursor = tonumber(ARGV[3 + i])
  local old = redis.call('GET', KEYS[i])
  if old then
    local value, saved = string.match(old, '^(%d+)\n(%d+)$')
    if value and tonumber(saved) > cutoff and tonumber(value) > cursor then
      cursor = tonumber(value)
    end
  end
  redis.call('SET', KEYS[i], fmt(cursor) .. '\n' .. now, 'PX', px)
end
return #KEYS
