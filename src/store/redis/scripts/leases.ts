import { FINISHED, NOW } from './shared';

/**
 * KEYS: leases, owners. ARGV: prefix, holder, leaseMs, task id...
 * Extends the holder's leases. A lease with no holder (Redis lost its data) is taken back. Returns the ids lost:
 * held by another runner, or finished.
 */
export const RENEW = `${NOW}
${FINISHED}
local lost = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local st = redis.call('HGET', ARGV[1] .. 'task:' .. id, 'st')
  local holder = redis.call('HGET', KEYS[2], id)
  if finished(st) or (holder and holder ~= ARGV[2]) then
    lost[#lost + 1] = id
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
    redis.call('HSET', KEYS[2], id, ARGV[2])
  end
end
return lost`;

/**
 * KEYS: leases, owners. ARGV: prefix, holder, leaseMs, max.
 * Expired leases of unfinished tasks pass to the holder (so a reaper that dies in turn is reaped too); those of
 * finished or forgotten tasks are dropped. Returns {id, snapshot, last id, ...} of the tasks handed over.
 */
export const REAP = `${NOW}
${FINISHED}
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', ARGV[1] .. 'task:' .. id, 'st', 's', 'l')
  if not v[1] or finished(v[1]) then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
    redis.call('HSET', KEYS[2], id, ARGV[2])
    out[#out + 1] = id
    out[#out + 1] = v[2]
    out[#out + 1] = v[3]
  end
end
return out`;
