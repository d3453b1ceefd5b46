-- Removes a batch of a node's entries: from each topic in its index (set of the topics it wrote
-- entries in) its subscription count and its device entries. With ARGV[5] '1' (a node that is
-- gone) it first checks the node is still stale (it may have come back and written its entries
-- again: then it stops), and when the index is empty the node leaves the nodes zset too.
-- KEYS: nodes zset, the node's topic index.
-- ARGV: node, device prefix, count prefix, batch, forget, stale window (ms).
-- Returns how many topics are left in the index (0 when it stopped).
local node = ARGV[1]
if ARGV[5] == '1' then
  local score = redis.call('ZSCORE', KEYS[1], node)
  if score and tonumber(score) >= nowMillis() - tonumber(ARGV[6]) then
    return 0
  end
end
local mark = node .. '\n'
local topics = redis.call('SPOP', KEYS[2], tonumber(ARGV[4]))
for _, topic in ipairs(topics) do
  redis.call('HDEL', ARGV[3] .. topic, node)
  local devices = ARGV[2] .. topic
  local entries = redis.call('HGETALL', devices)
  for i = 1, #entries, 2 do
    if string.sub(entries[i + 1], 1, #mark) == mark then
      redis.call('HDEL', devices, entries[i])
    end
  end
end
local left = redis.call('SCARD', KEYS[2])
if left == 0 and ARGV[5] == '1' then
  redis.call('ZREM', KEYS[1], node)
end
return left
