-- A device stream ended: removes its entries, only where they are still its own (a newer stream
-- may have taken them). KEYS: the device hash of each topic. ARGV: field, "<node> LF <token> LF".
local mine = ARGV[2]
for i = 1, #KEYS do
  local value = redis.call('HGET', KEYS[i], ARGV[1])
  if value and string.sub(value, 1, #mine) == mine then
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
end
return 0
