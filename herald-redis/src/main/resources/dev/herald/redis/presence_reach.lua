-- How many subscriptions the other live nodes have on each topic.
-- KEYS: nodes zset, then the count hash of each topic. ARGV: node, stale window (ms).
-- Returns the counts in KEYS order.
local cutoff = nowMillis() - tonumber(ARGV[2])
local result = {}
for i = 2, #KEYS do
  result[i - 1] = othersCount(KEYS[1], KEYS[i], ARGV[1], cutoff)
end
return result
