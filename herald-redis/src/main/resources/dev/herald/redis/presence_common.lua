-- Shared by the presence scripts (RedisPresence). A node is live while its heartbeat in the nodes
-- zset (scored by Redis' own clock, in ms) is newer than the stale window. A device entry is
-- field "<deviceId> LF <topics, LF-separated>" -> value "<node> LF <token> LF <since, epoch us>".
local function nowMillis()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Whether a node's heartbeat is within the window; cached per script run.
local liveCache = {}
local function isLive(nodes, node, cutoff)
  local known = liveCache[node]
  if known ~= nil then
    return known
  end
  local score = redis.call('ZSCORE', nodes, node)
  local live = score ~= false and score ~= nil and tonumber(score) >= cutoff
  liveCache[node] = live
  return live
end

-- The node of an entry's value, and the position of the LF after it.
local function nodeOf(value)
  local at = string.find(value, '\n', 1, true)
  return string.sub(value, 1, at - 1), at
end

-- Sums a topic's per-node subscription counts over the live nodes other than `self`.
local function othersCount(nodes, counts, self, cutoff)
  local sum = 0
  local entries = redis.call('HGETALL', counts)
  for i = 1, #entries, 2 do
    if entries[i] ~= self and isLive(nodes, entries[i], cutoff) then
      sum = sum + tonumber(entries[i + 1])
    end
  end
  return sum
end
