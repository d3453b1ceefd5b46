-- Deletes expired entries of topics nobody publishes to any more (publishing trims its own
-- topics). The stream keys are built here from the topic names in the sweep index: every key of a
-- deployment shares one hash slot, so this is safe on Redis Cluster too.
-- KEYS: dropped hash, oldest zset. ARGV: cutoff (ms), maxCount, stream key prefix, batch size.
-- Returns how many topics it swept (the caller repeats while that equals the batch size).
local cutoff = tonumber(ARGV[1])
local topics = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
for _, topic in ipairs(topics) do
  trim(ARGV[3] .. topic, topic, cutoff, tonumber(ARGV[2]), KEYS[1], KEYS[2])
end
return #topics
