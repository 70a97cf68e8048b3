import { NOW, QUEUES } from './shared';

/**
 * KEYS: queues, lanes, ready, queued, jobs, the idempotency key (jobs again without one).
 * ARGV: task id, type, group, input, snapshot, historyLimit, maxQueued ('' for none), maxQueuedPerOwner ('' for
 * none), fingerprint ('' without a key), the task id the key may be taken from ('' for none), publish ('1' on a
 * cluster), traceparent ('' for none), then the types whose queued tasks count against maxQueued.
 * Returns {'ok'} | {'check', task id, '1' if the fingerprint matches, its job record or ''} |
 * {'full', 'maxQueued' | 'maxQueuedPerOwner'}.
 * The queue's side of an enqueue: its place in the fair queue, its record (from which a claim can write its first
 * event, CREATE, if the enqueuer has not yet), the bounds and the key, as one step. A resend (a record already there)
 * answers 'ok' before any other check. A key held by another task answers 'check' and writes nothing: the caller
 * reads that task (another slot), and answers it, or takes the key over if it was forgotten by running this again
 * with its id (so of two takeovers of one key, the second sees the first's task).
 */
export const ENQUEUE = `${QUEUES}
local id, type, group = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HEXISTS', KEYS[5], id) == 1 then return {'ok'} end
if ARGV[9] ~= '' then
  local once = redis.call('HMGET', KEYS[6], 't', 'f')
  if once[1] and once[1] ~= ARGV[10] then
    local matches = '0'
    if once[2] == ARGV[9] then matches = '1' end
    return {'check', once[1], matches, redis.call('HGET', KEYS[5], once[1]) or ''}
  end
end
if ARGV[7] ~= '' then
  local queued = 0
  for i = 13, #ARGV do queued = queued + (tonumber(redis.call('HGET', KEYS[1], 'type:' .. ARGV[i])) or 0) end
  if queued >= tonumber(ARGV[7]) then return {'full', 'maxQueued'} end
end
if ARGV[8] ~= '' then
  local mine = tonumber(redis.call('HGET', KEYS[1], 'queued:' .. group)) or 0
  if mine >= tonumber(ARGV[8]) then return {'full', 'maxQueuedPerOwner'} end
end
local nextTurn = tonumber(redis.call('HGET', KEYS[1], 'next:' .. group)) or 0
local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimed:' .. type)) or -1
local turn = math.max(nextTurn, claimed + 1)
local seq = pad(redis.call('HINCRBY', KEYS[1], 'seq', 1))
local T = redis.sha1hex(type)
local empty = laneHead(KEYS[2], T, group) == nil
local entry = T .. redis.sha1hex(group) .. seq .. pad(turn) .. id
redis.call('ZADD', KEYS[2], 0, entry)
if empty then
  local parked = redis.call('HGET', KEYS[1], 'parked:' .. group)
  if parked then
    local types = cjson.decode(parked)
    local listed = false
    for _, t in ipairs(types) do if t == T then listed = true end end
    if not listed then
      types[#types + 1] = T
      redis.call('HSET', KEYS[1], 'parked:' .. group, cjson.encode(types))
    end
  else
    redis.call('ZADD', KEYS[3], 0, readyEntry(T, turn, seq, group))
  end
end
redis.call('HSET', KEYS[1], 'next:' .. group, string.format('%d', turn + 1))
redis.call('HINCRBY', KEYS[1], 'queued:' .. group, 1)
redis.call('HINCRBY', KEYS[1], 'type:' .. type, 1)
local key = ''
if ARGV[9] ~= '' then
  key = KEYS[6]
  redis.call('DEL', KEYS[6])
  redis.call('HSET', KEYS[6], 't', id, 'f', ARGV[9])
end
redis.call('HSET', KEYS[5], id, cjson.encode({t = type, g = group, q = entry, i = ARGV[4], s = ARGV[5],
  h = ARGV[6], k = key, p = ARGV[12]}))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '1000', '*', 't', type)
if ARGV[11] == '1' then redis.call('PUBLISH', KEYS[4], type) end
return {'ok'}`;

/**
 * KEYS: queues, lanes, ready, leases, owners, jobs. ARGV: holder, leaseMs, concurrencyPerOwner ('' for none), type...
 * Takes the lowest turn among the types' heads in `ready` (the oldest on a tie) and leases it. A group already
 * running concurrencyPerOwner tasks is parked instead (its heads of these types leave `ready` until one of its
 * tasks finishes) and the next turn is looked at: each group is passed over at most once per claim.
 * Returns {id, input, first snapshot, historyLimit, idempotency key, traceparent ('' for none)} or nil; the caller reads the task (another slot) and hands a
 * task finished meanwhile (cancelled between its COMMIT and its FINISH) to FINISH.
 */
export const CLAIM = `${NOW}
${QUEUES}
local limit = tonumber(ARGV[3])
local hashes = {}
for i = 4, #ARGV do hashes[i - 3] = redis.sha1hex(ARGV[i]) end
while true do
  local best, bestI, bestTurn, bestSeq
  for i, T in ipairs(hashes) do
    local head = redis.call('ZRANGEBYLEX', KEYS[3], '[' .. T, '[' .. T .. '~', 'LIMIT', 0, 1)[1]
    if head then
      local turn, seq = tonumber(string.sub(head, 41, 55)), string.sub(head, 56, 70)
      if not best or turn < bestTurn or (turn == bestTurn and seq < bestSeq) then
        best, bestI, bestTurn, bestSeq = head, i, turn, seq
      end
    end
  end
  if not best then return false end
  local group = string.sub(best, 71)
  local running = tonumber(redis.call('HGET', KEYS[1], 'running:' .. group)) or 0
  if limit and running >= limit then
    local parked = cjson.decode(redis.call('HGET', KEYS[1], 'parked:' .. group) or '[]')
    for _, T in ipairs(hashes) do
      local head = laneHead(KEYS[2], T, group)
      if head then
        local seq, turn = laneEntry(head)
        if redis.call('ZREM', KEYS[3], readyEntry(T, turn, seq, group)) == 1 then parked[#parked + 1] = T end
      end
    end
    redis.call('HSET', KEYS[1], 'parked:' .. group, cjson.encode(parked))
  else
    local T, type = hashes[bestI], ARGV[bestI + 3]
    redis.call('ZREM', KEYS[3], best)
    local entry = laneHead(KEYS[2], T, group)
    if entry then
      redis.call('ZREM', KEYS[2], entry)
      offer(KEYS[2], KEYS[3], T, group)
      unqueued(KEYS[1], type, group)
      local _, turn, id = laneEntry(entry)
      local raw = redis.call('HGET', KEYS[6], id)
      local job = raw and cjson.decode(raw)
      if job and job.q == entry then
        job.q = nil
        redis.call('HSET', KEYS[6], id, cjson.encode(job))
        local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimed:' .. type)) or -1
        if turn > claimed then redis.call('HSET', KEYS[1], 'claimed:' .. type, string.format('%d', turn)) end
        redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), id)
        redis.call('HSET', KEYS[5], id, ARGV[1])
        redis.call('HINCRBY', KEYS[1], 'running:' .. group, 1)
        return {id, job.i, job.s, job.h, job.k, job.p or ''}
      end
    end
  end
end`;

/**
 * KEYS: queues, lanes, ready, leases, owners, jobs, the idempotency key (jobs again without one).
 * ARGV: task id, ttlMs.
 * The queue's side of a finished task, after its terminal COMMIT: it leaves its lane if it was still queued
 * (cancelled), its lease and its group's running slot are released, its record goes, and its idempotency key
 * starts to expire with it (if the key is still its own). Idempotent: a second run finds nothing to do.
 */
export const FINISH = `${QUEUES}
local id = ARGV[1]
local leased = redis.call('ZREM', KEYS[4], id) == 1
redis.call('HDEL', KEYS[5], id)
local raw = redis.call('HGET', KEYS[6], id)
if raw then
  local job = cjson.decode(raw)
  if job.q then dequeued(KEYS[1], KEYS[2], KEYS[3], job.t, job.g, job.q) end
  if leased then released(KEYS[1], KEYS[2], KEYS[3], job.g) end
  redis.call('HDEL', KEYS[6], id)
end
if KEYS[7] ~= KEYS[6] and redis.call('HGET', KEYS[7], 't') == id then redis.call('PEXPIRE', KEYS[7], ARGV[2]) end
return 1`;
