/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, which is what makes a commit (event + snapshot),
 * an enqueue (first event + queue + bounds + idempotency key), a claim (turn + lease) and a takeover (expired lease
 * -> new holder) single steps. Time is Redis's own (TIME), so the clocks of the processes sharing it do not matter.
 *
 * Keys (`p` is the key prefix): `p task:<id>` a hash (s snapshot JSON, st status, l latest event id, h history limit,
 * b bytes of event data the stream holds, i input JSON until it finishes, r the tokens of its last 4 commits with the
 * ids they stored, `token:id,...`; g its owner group, q its lane entry while queued, k its idempotency key);
 * `p events:<id>` the task's stream (e event, d data, p previous event id); `p leases` a sorted set of task id ->
 * lease deadline (ms); `p owners` a hash of task id -> lease holder (`Lease.holder`: a runner's name); `p queued` a
 * stream that wakes workers when a task is queued; `p owner:<owner>` a stream with one entry (t task id) per task of
 * that owner, written by its first commit; `p once:<digest>` a hash (t task id, f fingerprint) per idempotency key,
 * expiring with its task; `p output:<id>` a string, the task's output (`job.write()`), appended by the same commit as
 * its `output` event and expiring with its task.
 *
 * The fair queue. Every queued task belongs to a group: `o:<owner>`, or `-` for the tasks without an owner. Each has a
 * turn: one after the turn of its group's previous task still queued (any type), and at least one after the last turn
 * claimed of its type; a claim takes the lowest turn among the types asked for, the oldest on a tie. So groups take
 * turns, one task each per turn, and a group keeps its own order. It is kept in:
 * - `p lane:<type>:<sha1 of the group>`: a list, the group's queued tasks of that type, oldest first, each entry
 *   `<turn>:<seq>:<task id>` (`seq`, 15 digits, counts enqueues: the tie-break). Deleted by Redis once empty.
 * - `p ready:<type>`: a sorted set holding each lane's head as `<seq>:<group>`, scored by its turn; the claim reads
 *   the lowest member of each type asked for (ZRANGE 0 0): O(log n) per type, however many tasks or groups wait.
 * - `p queues`: one hash for all the counters, each field there only while it means something: `seq`;
 *   `claimed:<type>` the last turn claimed; `type:<type>` and `queued:<group>` how many wait (for `maxQueued` and
 *   `maxQueuedPerOwner`); `next:<group>` the group's next turn while it has tasks queued; `running:<group>` its
 *   claimed, unfinished tasks (for `concurrencyPerOwner`); `parked:<group>` the types (JSON) whose `ready` set a
 *   claim took the group out of because it was at `concurrencyPerOwner`: it is offered again, from its lanes'
 *   heads, when one of its tasks finishes. A claim thus never passes over the same full group twice.
 * So the keys per owner are its lanes, which exist only while it has tasks queued, and its idempotency keys, which
 * expire with their tasks; everything else about it is a field of `p queues`, removed once it is zero.
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const FINISHED = `local function finished(st) return st == 'completed' or st == 'failed' or st == 'cancelled' end`;

/** The fair queue's helpers, shared by the scripts that queue, claim and finish tasks (see the header). */
const QUEUES = `local function lane(prefix, type, group) return prefix .. 'lane:' .. type .. ':' .. redis.sha1hex(group) end
local function readyKey(prefix, type) return prefix .. 'ready:' .. type end
local function entryOf(entry)
  local turn, seq, id = string.match(entry, '^(%d+):(%d+):(.+)$')
  return tonumber(turn), seq, id
end
-- Offers the head of the group's lane of that type (if any) to claims.
local function offer(prefix, type, group)
  local head = redis.call('LINDEX', lane(prefix, type, group), 0)
  if head then
    local turn, seq = entryOf(head)
    redis.call('ZADD', readyKey(prefix, type), turn, seq .. ':' .. group)
  end
end
-- A task left the queue: the counts of its type and of its group go down, and go once zero.
local function unqueued(state, type, group)
  if redis.call('HINCRBY', state, 'type:' .. type, -1) <= 0 then redis.call('HDEL', state, 'type:' .. type) end
  if redis.call('HINCRBY', state, 'queued:' .. group, -1) <= 0 then
    redis.call('HDEL', state, 'queued:' .. group, 'next:' .. group)
  end
end
-- A task of the group finished: it runs one task less, and is offered again if a claim had parked it.
local function released(state, prefix, group)
  if redis.call('HINCRBY', state, 'running:' .. group, -1) <= 0 then redis.call('HDEL', state, 'running:' .. group) end
  local parked = redis.call('HGET', state, 'parked:' .. group)
  if not parked then return end
  redis.call('HDEL', state, 'parked:' .. group)
  for _, type in ipairs(cjson.decode(parked)) do offer(prefix, type, group) end
end
-- A queued task finished (cancelled): it leaves its lane, and the lane's next task takes its place in ready.
local function dequeued(state, prefix, type, group, entry)
  local key = lane(prefix, type, group)
  local head = redis.call('LINDEX', key, 0)
  redis.call('LREM', key, 1, entry)
  if head == entry then
    local _, seq = entryOf(entry)
    if redis.call('ZREM', readyKey(prefix, type), seq .. ':' .. group) == 1 then offer(prefix, type, group) end
  end
  unqueued(state, type, group)
end`;

/**
 * KEYS: task, events, leases, owners, queues, the owner's index, output.
 * ARGV: snapshot, status, event, data, historyLimit, ttlMs, finished (1/0), condition ('' or 'c:' .. last id),
 * task id, type, owner ('' for none), maxHistoryBytes, token, the writer's previous event id ('' when it knows
 * none), prefix, the output change ('' none, 'a' .. text appends it, 'c' clears the output).
 * Returns {'ok', id} | {'finished', status} | {'conflict'}.
 * The token (unique per commit call) makes a commit idempotent: ioredis resends a command whose reply a reset
 * connection lost, and a resend of a commit that already ran answers {'ok', the id it stored} and writes nothing,
 * before any other check (so a resent terminal commit is not 'finished'). The last 4 tokens are kept, so commits of
 * other processes landing between the run and its resend do not defeat it.
 * The history is trimmed exactly, oldest first, to at most historyLimit entries and maxHistoryBytes bytes of data
 * (the latest entry is always kept): usually one XDEL per commit once a task is at its limit.
 * A finished snapshot starts the TTLs (the task's idempotency key's too), releases the lease and the group's running
 * slot, and takes a task cancelled while queued out of its lane.
 */
export const COMMIT = `${FINISHED}
${QUEUES}
local task = redis.call('HMGET', KEYS[1], 'r', 'st', 'l', 'g', 'q', 'k')
local recent = task[1] or ''
for token, stored in string.gmatch(recent, '([^,:]+):([^,]+)') do
  if token == ARGV[13] then return {'ok', stored} end
end
local st = task[2]
if finished(st) then return {'finished', st} end
local last = task[3] or ''
if ARGV[8] ~= '' and ARGV[8] ~= 'c:' .. last then return {'conflict'} end
-- A task Redis forgot (restarted without persistence) keeps its chain: the writer says which event came before.
local previous = last
if previous == '' then previous = ARGV[14] end
local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[3], 'd', ARGV[4], 'p', previous)
local bytes = (tonumber(redis.call('HGET', KEYS[1], 'b')) or 0) + #ARGV[4]
local len = redis.call('XLEN', KEYS[2])
local maxLen, maxBytes = tonumber(ARGV[5]), tonumber(ARGV[12])
while len > 1 and (len > maxLen or bytes > maxBytes) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local f = oldest[2]
  for i = 1, #f, 2 do if f[i] == 'd' then bytes = bytes - #f[i + 1] end end
  redis.call('XDEL', KEYS[2], oldest[1])
  len = len - 1
end
local tokens = {}
for pair in string.gmatch(recent, '[^,]+') do tokens[#tokens + 1] = pair end
tokens[#tokens + 1] = ARGV[13] .. ':' .. id
recent = table.concat(tokens, ',', math.max(1, #tokens - 3))
redis.call('HSET', KEYS[1], 's', ARGV[1], 'st', ARGV[2], 'l', id, 'h', ARGV[5], 'b', bytes, 'r', recent)
local change = string.sub(ARGV[16], 1, 1)
if change == 'c' then redis.call('DEL', KEYS[7]) end
if change == 'a' then redis.call('APPEND', KEYS[7], string.sub(ARGV[16], 2)) end
if last == '' and ARGV[11] ~= '' then redis.call('XADD', KEYS[6], '*', 't', ARGV[9]) end
if ARGV[7] == '1' then
  redis.call('HDEL', KEYS[1], 'i', 'q')
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[7], ARGV[6])
  if task[6] then redis.call('PEXPIRE', task[6], ARGV[6]) end
  local group = task[4]
  if group and task[5] then dequeued(KEYS[5], ARGV[15], ARGV[10], group, task[5]) end
  if redis.call('ZREM', KEYS[3], ARGV[9]) == 1 and group then released(KEYS[5], ARGV[15], group) end
  redis.call('HDEL', KEYS[4], ARGV[9])
end
return {'ok', id}`;

/**
 * KEYS: task, events, queues, queued, the owner's index, the idempotency key (read only with a fingerprint).
 * ARGV: prefix, task id, type, group, owner ('' for none), snapshot (also the event's data), historyLimit, input,
 * token, maxQueued ('' for none), maxQueuedPerOwner ('' for none), fingerprint ('' without a key), then the types
 * whose queued tasks count against maxQueued.
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
  for i = 13, #ARGV do queued = queued + (tonumber(redis.call('HGET', KEYS[3], 'type:' .. ARGV[i])) or 0) end
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
 * Returns {id, snapshot, last id, input} or nil.
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
      local v = redis.call('HMGET', task, 'st', 's', 'l', 'i')
      if v[1] == 'queued' then
        redis.call('HDEL', task, 'q')
        local claimed = tonumber(redis.call('HGET', KEYS[3], 'claimed:' .. bestType)) or -1
        if turn > claimed then redis.call('HSET', KEYS[3], 'claimed:' .. bestType, string.format('%d', turn)) end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
        redis.call('HSET', KEYS[2], id, ARGV[2])
        redis.call('HINCRBY', KEYS[3], 'running:' .. group, 1)
        return {id, v[2], v[3], v[4] or ''}
      end
    end
  end
end`;

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

/**
 * KEYS: the owner's index. ARGV: prefix.
 * The owner's tasks that still exist, oldest first, as {position, task id, ...}; entries of forgotten tasks are
 * deleted, and so is an index left empty.
 */
export const OWNED = `local out = {}
local entries = redis.call('XRANGE', KEYS[1], '-', '+')
for _, entry in ipairs(entries) do
  local id = entry[2][2]
  if redis.call('EXISTS', ARGV[1] .. 'task:' .. id) == 1 then
    out[#out + 1] = entry[1]
    out[#out + 1] = id
  else
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
if #out == 0 and #entries > 0 then redis.call('DEL', KEYS[1]) end
return out`;
