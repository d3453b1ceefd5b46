-- Appends a group of appends (each a batch of one publisher, optionally under an idempotency key)
-- atomically, under the call's one request key, and counts the subscriptions other nodes have on
-- the topics a publisher asked about (reach, see RedisPresence): one script call for many publishes.
-- A call that already ran (Lettuce sent it again) answers its first outcome and stores nothing
-- again; one that resolve.lua fenced off stores nothing. Per append, in order: a keyed append whose
-- key was used within its window stores nothing and answers the first append's ids (a replay) or a
-- conflict; any other takes ids from the deployment's one sequence, XADDs each event to every
-- topic's stream (entry id <id>-0, its previous entry in field 'p') and PUBLISHes its notification
-- on each topic's channel (consecutive events with the same topics in one message). Then, once
-- per group: the outcome under the request key, the sequence, one barrier, and retention of each
-- topic written to.
-- KEYS: meta hash, dropped hash, oldest zset, presence nodes zset, the stream of each of the k
--   distinct topics, the call's request key, the idempotency key of each keyed append (in order),
--   then the presence count hash of each of the m reach topics.
-- ARGV: 1 now (ms, the node's clock), 2 maxCount, 3 maxAge (ms), 4 channel prefix, 5 floor (the
--   newest id the calling node has seen), 6 k, 7 barrier channel ('' for none), 8 barrier token,
--   9 request key expiry (ms), 10 '1' to write a found earlier outcome again (so that a WAIT after
--   this script covers it: minReplicas), 11 n (appends), 12 the calling presence node, 13 its stale
--   window (ms), 14 m, then the k topic names, then per append: 'p' or 'k', the number of events,
--   for 'k' the key's expiry (by the node's clock), window (ms, for PX) and fingerprint, then per
--   event: t, t topic indexes (1..k), type, retry ('' for none), data.
-- The barrier, published after the notifications, travels the same way to the calling node's
-- subscriber connection (on Cluster, possibly through another node): once it arrives, so have they.
-- Returns {outcome, reach counts}. The outcome, also kept under the request key, is '' for a call
-- fenced off, else "timestamp" and a line per append: "s <first id> <count>" (stored; the ids of
-- one append are consecutive), "r <first id> <count>" (a replay) or "c" (a conflict).
local meta, dropped, oldest, nodes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local maxCount = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
local channel = ARGV[4]
local floor = tonumber(ARGV[5])
local k = tonumber(ARGV[6])
local ttl = ARGV[9]
local n = tonumber(ARGV[11])
local m = tonumber(ARGV[14])
local req = KEYS[5 + k]

-- Stores the group (the call's first run): returns its outcome.
local function storeGroup()
  -- Timestamps never go backwards (nodes' clocks differ), so expired entries are always a prefix.
  local clock = tonumber(ARGV[1])
  local now = clock
  local lastTs = redis.call('HGET', meta, 'ts')
  if lastTs and tonumber(lastTs) > now then
    now = tonumber(lastTs)
  end
  local nows = fmt(now)

  local seq = redis.call('HGET', meta, 'seq')
  local seqKnown = seq
  if seq then
    seq = tonumber(seq)
    -- Never below an id a node has seen: a sequence behind it lost its newest ids (a failover to a
    -- replica that lacked them, replication being asynchronous). Those ids are never given again (a
    -- node that announced them would drop the new events as repeats) and count as dropped, so a
    -- client resuming from before them gets a reset. Every node hears it before this call's events
    -- (on the empty topic's channel, which no topic has): one that announced none of those ids
    -- tells its streams with a reset.
    if floor > seq then
      seq = floor
      redis.call('HSET', meta, 'base', fmt(seq))
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
  end
  local base = seq
  -- Validate before the first write (a script that fails half-way keeps its writes): every new
  -- entry id must be above the newest of its stream, even if the sequence was lost without them.
  -- Each stream's newest entry is also the previous entry of the first one appended to it (its 'p'
  -- field, which lets retention find the newest dropped id without reading the dropped entries).
  local previous = {}
  for i = 1, k do
    local top = redis.call('XREVRANGE', KEYS[4 + i], '+', '-', 'COUNT', 1)[1]
    previous[i] = '0'
    if top then
      local topId = num(top[1])
      previous[i] = fmt(topId)
      if topId > seq then
        seq = topId
      end
      if not previousOf(top) then
        -- Written before the field came: entries up to here take retention's slower way.
        redis.call('HSET', dropped, legacyField(ARGV[14 + i]), previous[i])
      end
    end
  end

  local lines = {nows}
  local written = {}
  local appended = false
  -- Notifications go out in runs: consecutive events with the same topics share one PUBLISH per
  -- topic, in id order, so that a node watching several topics still hears every event in id
  -- order (it drops what is at or below the newest id it announced). The topics of the run being
  -- gathered ('' before the first), their channels, and its events.
  local runTopics = ''
  local runChannels = {}
  local run = {}
  local function flushRun()
    if #run > 0 then
      local payload = table.concat(run)
      for _, runChannel in ipairs(runChannels) do
        redis.call('PUBLISH', runChannel, payload)
      end
      run = {}
    end
  end
  -- One event of a notification: id, ts, type, retry, the number of topics, one line each, the
  -- data's length in bytes, then the data (line breaks included).
  local function notify(tp, channels, id, typ, retry, t, data)
    if tp ~= runTopics then
      flushRun()
      runTopics = tp
      runChannels = channels
    end
    run[#run + 1] = id .. '\n' .. nows .. '\n' .. typ .. '\n' .. retry .. '\n' .. t .. '\n' .. tp .. '\n' .. #data .. '\n' .. data
  end
  local kpos = 6 + k
  local pos = 15 + k
  for a = 1, n do
    local keyed = ARGV[pos] == 'k'
    local count = tonumber(ARGV[pos + 1])
    pos = pos + 2
    local idem, expires, window, fingerprint
    if keyed then
      idem = KEYS[kpos]
      kpos = kpos + 1
      expires, window, fingerprint = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
      pos = pos + 3
    end
    local line
    if keyed then
      local known = redis.call('GET', idem)
      if known then
        local ends, first, stored, fp = string.match(known, '^(%d+)\n(%d+)\n(%d+)\n(.*)$')
        -- The node's clock decides (as in every log), PX only frees the memory.
        if ends and tonumber(ends) > clock then
          if fp == fingerprint then
            -- Written again, unchanged: a WAIT after this script (minReplicas) then covers the
            -- first append, whichever connection made it.
            redis.call('SET', idem, known, 'KEEPTTL')
            line = 'r ' .. first .. ' ' .. stored
          else
            line = 'c'
          end
        end
      end
    end
    if line then
      for e = 1, count do
        pos = pos + 1 + tonumber(ARGV[pos]) + 3
      end
    else
      local first = fmt(seq + 1)
      for e = 1, count do
        local t = tonumber(ARGV[pos])
        seq = seq + 1
        local id = fmt(seq)
        if t == 1 then
          -- The common case, one topic, without the tables.
          local i = tonumber(ARGV[pos + 1])
          local typ, retry, data = ARGV[pos + 2], ARGV[pos + 3], ARGV[pos + 4]
          pos = pos + 5
          local name = ARGV[14 + i]
          written[i] = true
          redis.call('XADD', KEYS[4 + i], id .. '-0', 'ts', nows, 'tp', name, 't', typ, 'r', retry, 'd', data,
            'p', previous[i])
          previous[i] = id
          if name ~= runTopics then
            notify(name, {channel .. name}, id, typ, retry, 1, data)
          else
            notify(name, runChannels, id, typ, retry, 1, data)
          end
        else
          pos = pos + 1
          local names = {}
          local indexes = {}
          for j = 1, t do
            local i = tonumber(ARGV[pos])
            pos = pos + 1
            names[j] = ARGV[14 + i]
            indexes[j] = i
            written[i] = true
          end
          local typ, retry, data = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
          pos = pos + 3
          local tp = table.concat(names, '\n')
          for j = 1, t do
            local i = indexes[j]
            redis.call('XADD', KEYS[4 + i], id .. '-0', 'ts', nows, 'tp', tp, 't', typ, 'r', retry, 'd', data,
              'p', previous[i])
            previous[i] = id
          end
          local channels = runChannels
          if tp ~= runTopics then
            channels = {}
            for j = 1, t do
              channels[j] = channel .. names[j]
            end
          end
          notify(tp, channels, id, typ, retry, t, data)
        end
      end
      if keyed then
        redis.call('SET', idem, expires .. '\n' .. first .. '\n' .. count .. '\n' .. fingerprint, 'PX', window)
      end
      line = 's ' .. first .. ' ' .. count
      appended = true
    end
    lines[a + 1] = line
  end
  flushRun()
  local outcome = table.concat(lines, '\n')
  redis.call('SET', req, outcome, 'PX', ttl)

  if appended then
    if not seqKnown then
      redis.call('HSET', meta, 'base', fmt(base))
    end
    redis.call('HSET', meta, 'seq', fmt(seq), 'ts', nows)
    -- Every node hears the newest id, on the lost channel, so each one's floor is the deployment's
    -- and not only what it watched or published: after a failover that lost the newest ids,
    -- whichever node publishes first skips them (and says they are lost) instead of giving them out
    -- again.
    redis.call('PUBLISH', channel, 'newest ' .. fmt(seq))
    if ARGV[7] ~= '' then
      redis.call('PUBLISH', ARGV[7], ARGV[8])
    end
    local cutoff = now - maxAge
    for i = 1, k do
      if written[i] then
        trim(KEYS[4 + i], ARGV[14 + i], cutoff, maxCount, dropped, oldest)
      end
    end
  end
  return outcome
end

local outcome = redis.call('GET', req)
if outcome then
  if ARGV[10] == '1' and outcome ~= '' then
    redis.call('SET', req, outcome, 'PX', ttl)
  end
else
  outcome = storeGroup()
end

local reach = {}
if m > 0 then
  local cutoff = nowMillis() - tonumber(ARGV[13])
  local first = #KEYS - m
  for j = 1, m do
    reach[j] = othersCount(nodes, KEYS[first + j], ARGV[12], cutoff)
  end
end
return {outcome, reach}
