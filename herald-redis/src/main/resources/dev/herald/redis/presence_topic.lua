-- Who else is connected to a topic. KEYS: nodes zset, the topic's device hash, its count hash.
-- ARGV: node (left out: it knows its own exactly), stale window (ms).
-- Returns {subscriptions, deviceId, since, deviceId, since, ...} over the other live nodes.
local self = ARGV[1]
local cutoff = nowMillis() - tonumber(ARGV[2])
local result = {othersCount(KEYS[1], KEYS[3], self, cutoff)}
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local node, at = nodeOf(value)
  if node ~= self and isLive(KEYS[1], node, cutoff) then
    local field = entries[i]
    local tokenEnd = string.find(value, '\n', at + 1, true)
    result[#result + 1] = string.sub(field, 1, string.find(field, '\n', 1, true) - 1)
    result[#result + 1] = string.sub(value, tokenEnd + 1)
  end
end
return result
