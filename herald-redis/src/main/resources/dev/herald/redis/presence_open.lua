-- A device stream opened on a node: it takes the device's entry in each of its topics, and the
-- node of the stream it replaces (another live node) is told on its control channel
-- ("<token> LF <field>"). If the entry in place belongs to another live node and opened later,
-- that stream is the newer one: nothing is written, and the caller closes its own stream.
-- KEYS: nodes zset, the node's topic index, then the device hash of each topic.
-- ARGV: node, field, token, since (epoch us), control channel prefix, stale window (ms), then
-- the topics in KEYS order. Returns 1 when the stream in place is newer, else 0.
local node, field, token = ARGV[1], ARGV[2], ARGV[3]
local since = tonumber(ARGV[4])
local cutoff = nowMillis() - tonumber(ARGV[6])
local older = {}
for i = 3, #KEYS do
  local old = redis.call('HGET', KEYS[i], field)
  if old then
    local oldNode, at = nodeOf(old)
    if oldNode ~= node and isLive(KEYS[1], oldNode, cutoff) then
      local tokenEnd = string.find(old, '\n', at + 1, true)
      if tonumber(string.sub(old, tokenEnd + 1)) > since then
        return 1
      end
      older[oldNode] = string.sub(old, at + 1, tokenEnd - 1)
    end
  end
end
local value = node .. '\n' .. token .. '\n' .. ARGV[4]
for i = 3, #KEYS do
  redis.call('HSET', KEYS[i], field, value)
  redis.call('SADD', KEYS[2], ARGV[i + 4])
end
for oldNode, oldToken in pairs(older) do
  redis.call('PUBLISH', ARGV[5] .. oldNode, oldToken .. '\n' .. field)
end
return 0
