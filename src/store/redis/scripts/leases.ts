import { NOW } from './shared';

/**
 * KEYS: leases, owners. ARGV: holder, leaseMs, task id...
 * Extends the holder's leases of tasks the caller found unfinished. A lease with no holder (Redis lost its data) is
 * taken back. Returns the ids lost: held by another runner.
 */
export const RENEW = `${NOW}
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local holder = redis.call('HGET', KEYS[2], id)
  if holder and holder ~= ARGV[1] then
    lost[#lost + 1] = id
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', KEYS[2], id, ARGV[1])
  end
end
return lost`;

/**
 * KEYS: leases, owners. ARGV: holder, leaseMs, max.
 * Expired leases pass to the holder (so a reaper that dies in turn is reaped too). Returns the ids handed over; the
 * caller reads those tasks (another slot) and hands the finished or forgotten ones to FINISH, which drops their
 * leases.
 */
export const REAP = `${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
  redis.call('HSET', KEYS[2], id, ARGV[1])
end
return ids`;
