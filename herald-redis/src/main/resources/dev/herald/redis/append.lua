-- A request key names one attempt of an append ({prefix}r:<node>:<n>), so that the node can learn
-- its outcome when Redis' answer is lost (resolve.lua). It holds "timestamp LF first id LF count"
-- once the attempt stored its batch, or '' once resolve.lua found nothing there: the attempt must
-- then never store (a copy of it may still reach Redis later, on another connection).
-- Returns the attempt's earlier outcome as an append answers it, {'fenced'}, or nil if none.
local function recorded(req)
  local v = redis.call('GET', req)
  if not v then
    return nil
  end
  if v == '' then
    return {'fenced'}
  end
  local ts, first, count = string.match(v, '^(%d+)\n(%d+)\n(%d+)$')
  local result = {ts}
  for i = 0, tonumber(count) - 1 do
    result[#result + 1] = fmt(tonumber(first) + i)
  end
  return result
end

-- Records that the attempt under request key req stored an append's result, for ttl ms.
local function remember(req, ttl, result)
  redis.call('SET', req, result[1] .. '\n' .. result[2] .. '\n' .. fmt(#result - 1), 'PX', ttl)
end
