/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, which is what makes a commit (event + snapshot),
 * an enqueue (first event + queue + bounds + idempotency key), a claim (turn + lease) and a takeover (expired lease
 * -> new holder) single steps. Time is Redis's own (TIME), so the clocks of the processes sharing it do not matter.
 *
 * Keys (`p` is the key prefix): `p task:<id>` a hash (s snapshot JSON, st status, l latest event id, h history limit,
 * b bytes of event data the stream holds, i input JSON until it finishes, r the tokens of its last 4 commits with the
 * ids they stored, `token:id,...`; g its owner group, q its lane entry while queued, k its idempotency key, tp the
 * W3C traceparent of the span that started it, when there was one);
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

export const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

export const FINISHED = `local function finished(st) return st == 'completed' or st == 'failed' or st == 'cancelled' end`;

/** The fair queue's helpers, shared by the scripts that queue, claim and finish tasks (see the header). */
export const QUEUES = `local function lane(prefix, type, group) return prefix .. 'lane:' .. type .. ':' .. redis.sha1hex(group) end
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
