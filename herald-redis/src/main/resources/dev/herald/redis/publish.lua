-- Appends a batch atomically: ids from the deployment's one sequence, XADD to every topic's stream
-- (entry id <id>-0), retention, and one notification per (event, topic) on the topic's channel.
-- KEYS: meta hash, dropped hash, oldest zset, then the stream of each distinct topic of the batch.
-- ARGV: now (ms), maxCount, maxAge (ms), channel prefix, floor (the newest id the calling node has
--       seen), k (distinct topics), the k topic names, then per event: n, n topic indexes (1..k),
--       type, retry ('' for none), data.
-- Returns {timestamp, id1, id2, ...}.
local meta, dropped, oldest = KEYS[1], KEYS[2], KEYS[3]
local maxCount = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
local channel = ARGV[4]
local floor = tonumber(ARGV[5])
local k = tonumber(ARGV[6])

-- Timestamps never go backwards (nodes' clocks differ), so expired entries are always a prefix.
local now = tonumber(ARGV[1])
local lastTs = redis.call('HGET', meta, 'ts')
if lastTs and tonumber(lastTs) > now then
  now = tonumber(lastTs)
end
local nows = fmt(now)

local seq = redis.call('HGET', meta, 'seq')
if seq then
  seq = tonumber(seq)
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
  local top = redis.call('XREVRANGE', KEYS[3 + i], '+', '-', 'COUNT', 1)
  if top[1] and num(top[1][1]) > seq then
    seq = num(top[1][1])
  end
end

local result = {nows}
local pos = 7 + k
while pos <= #ARGV do
  local n = tonumber(ARGV[pos])
  pos = pos + 1
  local names = {}
  local keys = {}
  for j = 1, n do
    local i = tonumber(ARGV[pos])
    pos = pos + 1
    names[j] = ARGV[6 + i]
    keys[j] = KEYS[3 + i]
  end
  local typ, retry, data = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
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

local cutoff = now - maxAge
for i = 1, k do
  trim(KEYS[3 + i], ARGV[6 + i], cutoff, maxCount, dropped, oldest)
end
return result
