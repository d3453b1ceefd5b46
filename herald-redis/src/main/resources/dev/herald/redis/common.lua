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

-- The id an entry names as its stream's previous entry (its 'p' field, the last of the six every
-- entry has had since the field came), nil for an entry written before.
local function previousOf(entry)
  local fields = entry[2]
  if fields[11] == 'p' then
    return tonumber(fields[12])
  end
  return nil
end

-- The dropped hash's field holding the newest entry of a topic's stream known to lack the 'p' field
-- (written before the field came): topic names never hold control characters.
local function legacyField(topic)
  return topic .. '\nlegacy'
end

-- Applies retention to one topic's stream: drops the expired prefix and the entries over the
-- count, records the newest dropped id in the dropped hash, and keeps the topic's oldest
-- timestamp in the sweep index (or deletes the emptied stream).
local function trim(key, topic, cutoff, maxCount, dropped, oldest)
  local through = 0
  local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  if head and tonumber(head[2][2]) <= cutoff then
    through = expiredThrough(key, cutoff)
    redis.call('XTRIM', key, 'MINID', fmt(through + 1))
    head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  end
  if head then
    local excess = redis.call('XLEN', key) - maxCount
    if excess > 0 then
      local legacy = tonumber(redis.call('HGET', dropped, legacyField(topic)) or '0')
      if previousOf(head) and num(head[1]) > legacy then
        -- Every entry from the head on names its previous one: the new head names the newest
        -- entry dropped, so the dropped ones are never read (the cost of a count trim).
        redis.call('XTRIM', key, 'MAXLEN', maxCount)
        head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
        -- (Only a node of an earlier build appending between two of this build's writes could
        -- leave a head without the field: then the newest dropped id is not known, and the id
        -- below the head is the one bound that loses nothing.)
        through = previousOf(head) or (num(head[1]) - 1)
      else
        local page = redis.call('XRANGE', key, '-', '+', 'COUNT', excess + 1)
        through = num(page[excess][1])
        head = page[excess + 1]
        redis.call('XTRIM', key, 'MAXLEN', maxCount)
      end
    end
  end
  if through > 0 then
    local old = redis.call('HGET', dropped, topic)
    if (not old) or tonumber(old) < through then
      redis.call('HSET', dropped, topic, fmt(through))
    end
  end
  if head then
    redis.call('ZADD', oldest, head[2][2], topic)
  else
    redis.call('ZREM', oldest, topic)
    redis.call('DEL', key)
  end
end
