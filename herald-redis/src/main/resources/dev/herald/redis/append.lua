-- Appends a batch atomically: ids from the deployment's one sequence, XADD to every topic's stream
-- (entry id <id>-0), retention, and one notification per (event, topic) on the topic's channel.
-- A function (not a script) so that publish.lua and publish_keyed.lua share it.
-- K (keys): meta hash, dropped hash, oldest zset, then the stream of each distinct topic of the
--   batch.
-- A (arguments): now (ms), maxCount, maxAge (ms), channel prefix, floor (the newest id the calling
--   node has seen), k (distinct topics), barrier channel ('' for none), barrier token, the k topic
--   names, then per event: n, n topic indexes (1..k), type, retry ('' for none), data.
-- The barrier, published after the notifications, travels the same way to the calling node's
-- subscriber connection (on Cluster, possibly through another node): once it arrives, so have they.
-- Returns {timestamp, id1, id2, ...}: the ids of one batch are consecutive.
local function append(K, A)
  local meta, dropped, oldest = K[1], K[2], K[3]
  local maxCount = tonumber(A[2])
  local maxAge = tonumber(A[3])
  local channel = A[4]
  local floor = tonumber(A[5])
  local k = tonumber(A[6])

  -- Timestamps never go backwards (nodes' clocks differ), so expired entries are always a prefix.
  local now = tonumber(A[1])
  local lastTs = redis.call('HGET', meta, 'ts')
  if lastTs and tonumber(lastTs) > now then
    now = tonumber(lastTs)
  end
  local nows = fmt(now)

  local seq = redis.call('HGET', meta, 'seq')
  if seq then
    seq = tonumber(seq)
    -- Never below an id a node has seen: a sequence behind it lost its newest ids (a failover to
    -- a replica that lacked them, replication being asynchronous). Those ids are never given
    -- again (a node that announced them would drop the new events as repeats) and count as
    -- dropped, so a client resuming from before them gets a reset.
    if floor > seq then
      seq = floor
      redis.call('HSET', meta, 'base', fmt(seq))
      -- Every node hears it before this batch's events (on the empty topic's channel, which no
      -- topic has): one that announced none of those ids tells its streams with a reset.
      redis.call('PUBLISH', channel, fmt(seq))
    end
  else
    -- A missing sequence (new deployment, or Redis lost its data) starts at the time in
    -- microseconds, so ids are never reused; everything below it counts as dropped.
    local t = redis.call('TIME')
    seq = tonumber(t[1]) * 1000000 + tonumber(t[2]) - 1
    -- Never below an id a node has seen, even if Redis' clock is behind the one that issued it.
    if floor > seq then
      seq = floor
    end
    redis.call('HSET', meta, 'base', fmt(seq))
  end
  -- Validate before the first write (a script that fails half-way keeps its writes): every new
  -- entry id must be above the newest of its stream, even if the sequence was lost without them.
  for i = 1, k do
    local top = redis.call('XREVRANGE', K[3 + i], '+', '-', 'COUNT', 1)
    if top[1] and num(top[1][1]) > seq then
      seq = num(top[1][1])
    end
  end

  local result = {nows}
  local pos = 9 + k
  while pos <= #A do
    local n = tonumber(A[pos])
    pos = pos + 1
    local names = {}
    local keys = {}
    for j = 1, n do
      local i = tonumber(A[pos])
      pos = pos + 1
      names[j] = A[8 + i]
      keys[j] = K[3 + i]
    end
    local typ, retry, data = A[pos], A[pos + 1], A[pos + 2]
    pos = pos + 3
    seq = seq + 1
    local id = fmt(seq)
    local tp = table.concat(names, '\n')
    for j = 1, n do
      redis.call('XADD', keys[j], id .. '-0', 'ts', nows, 'tp', tp, 't', typ, 'r', retry, 'd', data)
    end
    local payload = id .. '\n' .. nows .. '\n' .. typ .. '\n' .. retry .. '\n' .. n .. '\n' .. tp .. '\n' .. data
    for j = 1, n do
      redis.call('PUBLISH', channel .. names[j], payload)
    end
    result[#result + 1] = id
  end
  redis.call('HSET', meta, 'seq', fmt(seq), 'ts', nows)
  if A[7] ~= '' then
    redis.call('PUBLISH', A[7], A[8])
  end

  local cutoff = now - maxAge
  for i = 1, k do
    trim(K[3 + i], A[8 + i], cutoff, maxCount, dropped, oldest)
  end
  return result
end

-- A request key names one attempt of an append ({prefix}r:<node>:<n>), so that the node can learn
-- its outcome when Redis' answer is lost (resolve.lua). It holds "timestamp LF first id LF count"
-- once the attempt stored its batch, or '' once resolve.lua found nothing there: the attempt must
-- then never store (a copy of it may still reach Redis later, on another connection).
-- Returns the attempt's earlier outcome as append returns it, {'fenced'}, or nil if none.
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

-- Records that the attempt under request key req stored append's result, for ttl ms.
local function remember(req, ttl, result)
  redis.call('SET', req, result[1] .. '\n' .. result[2] .. '\n' .. fmt(#result - 1), 'PX', ttl)
end
