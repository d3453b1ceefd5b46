-- Reads retained events above an id from several topics' streams, merged in id order, each event
-- once, at most limit of them. KEYS: the streams. ARGV: afterId, limit, cutoff (ms; entries at or
-- before it are expired). Returns a flat list: id, ts, topics, type, retry, data per event.
local after, limit, cutoff = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local all = {}
for i = 1, #KEYS do
  local start = fmt(after) .. '-1' -- exclusive: every entry id is <id>-0
  local got = 0
  while got < limit do
    local page = redis.call('XRANGE', KEYS[i], start, '+', 'COUNT', limit)
    for _, entry in ipairs(page) do
      if tonumber(entry[2][2]) > cutoff and got < limit then
        got = got + 1
        all[#all + 1] = {num(entry[1]), entry[2]}
      end
    end
    if #page < limit then
      break
    end
    start = fmt(num(page[#page][1])) .. '-1'
  end
end
table.sort(all, function(a, b) return a[1] < b[1] end)
local out = {}
local previous = -1
local count = 0
for _, e in ipairs(all) do
  if count >= limit then
    break
  end
  if e[1] ~= previous then
    previous = e[1]
    count = count + 1
    local f = e[2]
    out[#out + 1] = fmt(e[1])
    out[#out + 1] = f[2]
    out[#out + 1] = f[4]
    out[#out + 1] = f[6]
    out[#out + 1] = f[8]
    out[#out + 1] = f[10]
  end
end
return out
