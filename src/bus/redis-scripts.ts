/**
 * The Redis Streams transport's atomic steps, one Lua script each (Redis 7.0: no XACKDEL). Every
 * key of an address shares the hash tag `{address}`, so each script touches one Cluster slot.
 * Delayed members are `<class digit><json>` so the promoter can route them without decoding.
 */

/**
 * KEYS: stream, delayed, dlq. ARGV: group, id, maxlen, n, then n (score, member) retries, then
 * dead letters. Settles one stream entry (one message, or a pack of them) in one step: ack and
 * delete it, park its retries in the delayed set and append its dead letters. A crash before it
 * leaves the whole entry pending (redelivered); after it, nothing of the entry is left to do.
 */
export const FINISH = `
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  redis.call('ZADD', KEYS[2], ARGV[5 + 2 * i], ARGV[6 + 2 * i])
end
for i = 5 + 2 * n, #ARGV do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[i])
end
return 1`

/**
 * KEYS: delayed, stream0..stream3. ARGV: now, limit. Moves due members to their class stream
 * (ZREM first: two promoters never move one member twice).
 */
export const PROMOTE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  if redis.call('ZREM', KEYS[1], m) == 1 then
    local p = tonumber(string.sub(m, 1, 1))
    redis.call('XADD', KEYS[2 + p], '*', 'm', string.sub(m, 2))
  end
end
return #due`

/**
 * KEYS: stream. ARGV: group, consumer, minIdle, cursor, count. XAUTOCLAIM, plus each claimed
 * entry's delivery count (XPENDING's times-delivered, which XAUTOCLAIM raised): a message that
 * kills every consumer taking it is counted, so the bus can dead-letter it ('max-deliveries').
 * Returns { cursor, entries, counts }.
 */
export const CLAIM = `
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', tonumber(ARGV[5]))
local counts = {}
for i, e in ipairs(r[2]) do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
  if p[1] then counts[i] = p[1][4] else counts[i] = 1 end
end
return { r[1], r[2], counts }`

/**
 * KEYS: stream. ARGV: group, id, messages... Replaces a taken-over pack by one entry per message
 * (their attempts already raised), so a poison message is retried and dead-lettered alone
 * instead of taking its pack with it.
 */
export const SPLIT = `
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'm', ARGV[i])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return #ARGV - 2`

/**
 * KEYS: stream. ARGV: group, consumer, minIdle. Removes consumers of the group that hold nothing
 * pending: `consumer` alone (a bus closing), or with '' every one idle at least `minIdle` ms (the
 * names of closed and crashed buses, which XREADGROUP created and nothing else removes). Checked
 * and removed in one step, so an entry never loses its owner; a live consumer removed this way is
 * created again by its next read. Returns how many were removed.
 */
export const PRUNE = `
local cs = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(cs) ~= 'table' or cs.err then return 0 end
local removed = 0
local minIdle = tonumber(ARGV[3])
for _, c in ipairs(cs) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f['pending'] == 0 and ((ARGV[2] ~= '' and f['name'] == ARGV[2]) or (ARGV[2] == '' and f['idle'] >= minIdle)) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed`
