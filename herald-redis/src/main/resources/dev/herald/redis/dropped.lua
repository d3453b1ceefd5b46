-- The newest id retention dropped from any of the topics: recorded drops, the expired entries not
-- yet trimmed, and the sequence's base (ids from before the store began count as dropped).
-- KEYS: meta hash, dropped hash, then the topics' streams. ARGV: cutoff (ms), floor (the newest id
-- the calling node has seen), then the topics.
local cutoff = tonumber(ARGV[1])
local through = tonumber(redis.call('HGET', KEYS[1], 'base') or '0')
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq < tonumber(ARGV[2]) then
  -- Redis lost its data, or its newest ids (a failover to a replica that lacked them): every id
  -- a node saw above the sequence is gone.
  through = math.max(through, tonumber(ARGV[2]))
end
for i = 3, #KEYS do
  local d = redis.call('HGET', KEYS[2], ARGV[i])
  if d and tonumber(d) > through then
    through = tonumber(d)
  end
  local expired = expiredThrough(KEYS[i], cutoff)
  if expired > through then
    through = expired
  end
end
return fmt(through)
