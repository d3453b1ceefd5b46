-- Shared by every Herald script. Ids are decimal integers below 2^53, exact in Lua numbers; they
-- are always formatted with %d, never with tostring (which would round them to 14 digits).
local function num(entryId)
  return tonumber(string.match(entryId, '^(%d+)'))
end

local function fmt(n)
  return string.format('%d', n)
end

-- The id of the newest entry of a stream's expired prefix (timestamps never decrease along a
-- stream, so the expired entries are a prefix); 0 if none. The timestamp is an entry's first field.
local function expiredThrough(key, cutoff)
  -- The common case, nothing expired, costs one entry, not a page.
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
  if (not first[1]) or tonumber(first[1][2][2]) > cutoff then
    return 0
  end
  local through = 0
  local start = '-'
  while true do
    local page = redis.call('XRANGE', key, start, '+', 'COUNT', 100)
    for _, entry in ipairs(page) do
      if tonumber(entry[2][2]) > cutoff then
        return through
      end
      through = num(entry[1])
    end
    if #page < 100 then
      return through
    end
    start = fmt(through) .. '-1'
  end
end

-- Applies retention to one topic's stream: drops the expired prefix and the entries over the
-- count, records the newest dropped id in the dropped hash, and keeps the topic's oldest
-- timestamp in the sweep index (or deletes the emptied stream).
local function trim(key, topic, cutoff, maxCount, dropped, oldest)
  local through = expiredThrough(key, cutoff)
  if through > 0 then
    redis.call('XTRIM', key, 'MINID', fmt(through + 1))
  end
  local len = redis.call('XLEN', key)
  if len > maxCount then
    local excess = redis.call('XRANGE', key, '-', '+', 'COUNT', len - maxCount)
    local newest = num(excess[#excess][1])
    if newest > through then
      through = newest
    end
    redis.call('XTRIM', key, 'MAXLEN', maxCount)
  end
  if through > 0 then
    local old = redis.call('HGET', dropped, topic)
    if (not old) or tonumber(old) < through then
      redis.call('HSET', dropped, topic, fmt(through))
    end
  end
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
  if first[1] then
    redis.call('ZADD', oldest, first[1][2][2], topic)
  else
    redis.call('ZREM', oldest, topic)
    redis.call('DEL', key)
  end
end
