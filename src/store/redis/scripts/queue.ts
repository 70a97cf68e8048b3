import { NOW, QUEUES } from './shared';

/**
 * KEYS: task, events, queues, queued, the owner's index, the idempotency key (read only with a fingerprint).
 * ARGV: prefix, task id, type, group, owner ('' for none), snapshot (also the event's data), historyLimit, input,
 * token, maxQueued ('' for none), maxQueuedPerOwner ('' for none), fingerprint ('' without a key), traceparent ('' for
 * none), then the types whose queued tasks count against maxQueued.
 * Returns {'ok', id} | {'existing', snapshot, last id} | {'reused'} | {'full', 'maxQueued' | 'maxQueuedPerOwner'}.
 * The task's first commit (its `queued` event), its place in the fair queue and its idempotency key, as one step; a
 * resend (the token) answers the id stored the first time, before any other check. With a fingerprint, a key whose
 * task still exists answers that task ('existing', or 'reused' for another fingerprint) and writes nothing, bounds
 * unchecked; a key whose task was forgotten is taken over.
 */
export const ENQUEUE = `${QUEUES}
local prefix, id, type, group = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local recent = redis.call('HGET', KEYS[1], 'r') or ''
for token, stored in string.gmatch(recent, '([^,:]+):([^,]+)') do
  if token == ARGV[9] then return {'ok', stored} end
end
if ARGV[12] ~= '' then
  local once = redis.call('HMGET', KEYS[6], 't', 'f')
  if once[1] then
    local existing = redis.call('HMGET', prefix .. 'task:' .. once[1], 's', 'l')
    if existing[1] then
      if once[2] ~= ARGV[12] then return {'reused'} end
      return {'existing', existing[1], existing[2]}
    end
  end
end
if ARGV[10] ~= '' then
  local queued = 0
  for i = 14, #ARGV do queued = queued + (tonumber(redis.call('HGET', KEYS[3], 'type:' .. ARGV[i])) or 0) end
  if queued >= tonumber(ARGV[10]) then return {'full', 'maxQueued'} end
end
if ARGV[11] ~= '' then
  local mine = tonumber(redis.call('HGET', KEYS[3], 'queued:' .. group)) or 0
  if mine >= tonumber(ARGV[11]) then return {'full', 'maxQueuedPerOwner'} end
end
local event = redis.call('XADD', KEYS[2], '*', 'e', 'status', 'd', ARGV[6], 'p', '')
local nextTurn = tonumber(redis.call('HGET', KEYS[3], 'next:' .. group)) or 0
local claimed = tonumber(redis.call('HGET', KEYS[3], 'claimed:' .. type)) or -1
local turn = math.max(nextTurn, claimed + 1)
local seq = string.format('%015d', redis.call('HINCRBY', KEYS[3], 'seq', 1))
local entry = string.format('%d', turn) .. ':' .. seq .. ':' .. id
local key = lane(prefix, type, group)
if redis.call('RPUSH', key, entry) == 1 then
  local parked = redis.call('HGET', KEYS[3], 'parked:' .. group)
  if parked then
    local types = cjson.decode(parked)
    local listed = false
    for _, t in ipairs(types) do if t == type then listed = true end end
    if not listed then
      types[#types + 1] = type
      redis.call('HSET', KEYS[3], 'parked:' .. group, cjson.encode(types))
    end
  else
    redis.call('ZADD', readyKey(prefix, type), turn, seq .. ':' .. group)
  end
end
redis.call('HSET', KEYS[3], 'next:' .. group, string.format('%d', turn + 1))
redis.call('HINCRBY', KEYS[3], 'queued:' .. group, 1)
redis.call('HINCRBY', KEYS[3], 'type:' .. type, 1)
redis.call('HSET', KEYS[1], 's', ARGV[6], 'st', 'queued', 'l', event, 'h', ARGV[7], 'b', #ARGV[6],
  'r', ARGV[9] .. ':' .. event, 'i', ARGV[8], 'g', group, 'q', entry)
if ARGV[13] ~= '' then redis.call('HSET', KEYS[1], 'tp', ARGV[13]) end
if ARGV[5] ~= '' then redis.call('XADD', KEYS[5], '*', 't', id) end
if ARGV[12] ~= '' then
  redis.call('DEL', KEYS[6])
  redis.call('HSET', KEYS[6], 't', id, 'f', ARGV[12])
  redis.call('HSET', KEYS[1], 'k', KEYS[6])
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '1000', '*', 't', type)
return {'ok', event}`;

/**
 * KEYS: leases, owners, queues. ARGV: prefix, holder, leaseMs, concurrencyPerOwner ('' for none), type...
 * Takes the lowest turn among the `ready` sets of the types (the oldest on a tie) and leases it. A group already
 * running concurrencyPerOwner tasks is parked instead (out of the `ready` sets of these types until one of its
 * tasks finishes) and the next turn is looked at: each group is passed over at most once per claim.
 * Returns {id, snapshot, last id, input, traceparent ('' for none)} or nil.
 */
export const CLAIM = `${NOW}
${QUEUES}
local prefix, limit = ARGV[1], tonumber(ARGV[4])
while true do
  local best, bestType, bestTurn
  for i = 5, #ARGV do
    local head = redis.call('ZRANGE', readyKey(prefix, ARGV[i]), 0, 0, 'WITHSCORES')
    if head[1] then
      local turn = tonumber(head[2])
      if not best or turn < bestTurn or (turn == bestTurn and head[1] < best) then
        best, bestType, bestTurn = head[1], ARGV[i], turn
      end
    end
  end
  if not best then return false end
  local group = string.sub(best, 17)
  local running = tonumber(redis.call('HGET', KEYS[3], 'running:' .. group)) or 0
  if limit and running >= limit then
    local parked = cjson.decode(redis.call('HGET', KEYS[3], 'parked:' .. group) or '[]')
    for i = 5, #ARGV do
      local head = redis.call('LINDEX', lane(prefix, ARGV[i], group), 0)
      if head then
        local _, seq = entryOf(head)
        if redis.call('ZREM', readyKey(prefix, ARGV[i]), seq .. ':' .. group) == 1 then parked[#parked + 1] = ARGV[i] end
      end
    end
    redis.call('HSET', KEYS[3], 'parked:' .. group, cjson.encode(parked))
  else
    redis.call('ZREM', readyKey(prefix, bestType), best)
    local entry = redis.call('LPOP', lane(prefix, bestType, group))
    if entry then
      offer(prefix, bestType, group)
      unqueued(KEYS[3], bestType, group)
      local turn, _, id = entryOf(entry)
      local task = prefix .. 'task:' .. id
      local v = redis.call('HMGET', task, 'st', 's', 'l', 'i', 'tp')
      if v[1] == 'queued' then
        redis.call('HDEL', task, 'q')
        local claimed = tonumber(redis.call('HGET', KEYS[3], 'claimed:' .. bestType)) or -1
        if turn > claimed then redis.call('HSET', KEYS[3], 'claimed:' .. bestType, string.format('%d', turn)) end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
        redis.call('HSET', KEYS[2], id, ARGV[2])
        redis.call('HINCRBY', KEYS[3], 'running:' .. group, 1)
        return {id, v[2], v[3], v[4] or '', v[5] or ''}
      end
    end
  end
end`;
