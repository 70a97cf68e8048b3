/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis and touches only the keys it is given (KEYS), all
 * of one hash slot on a Redis Cluster: a task's keys (CREATE, COMMIT), the queue's (ENQUEUE, CLAIM, FINISH, RENEW,
 * REAP) or an owner's index (OWN, PRUNE). An operation that spans them runs its scripts in an order whose every
 * step leaves the store correct (src/store/redis/queue.ts says which, docs/redis-cluster.md why). Time is Redis's own
 * (TIME), so the clocks of the processes sharing it do not matter.
 *
 * Keys (`p` is the key prefix; keys.ts adds the hash tags on a cluster): `p task:<id>` a hash (s snapshot JSON, st
 * status, l latest event id, f first event id, h history limit, b bytes of event data the stream holds, r the tokens
 * of its last 4 commits with the ids they stored, `token:id,...`; k its idempotency key); `p events:<id>` the task's
 * stream (e event, d data, p previous event id); `p output:<id>` a string, the task's output (`job.write()`),
 * appended by the same commit as its `output` event and expiring with its task; `p owner:<owner>` a stream with one
 * entry (t task id) per task of that owner, written after its first commit. The queue's keys: `p leases` a sorted set
 * of task id -> lease deadline (ms); `p owners` a hash of task id -> lease holder (`Lease.holder`: a runner's name);
 * `p jobs` a hash of task id -> JSON of the queue's record of a task until it finishes (t type, g group, q its lane
 * entry while queued, i input, s its first snapshot and h history limit, k its idempotency key, p the W3C traceparent
 * of the span that started it, when there was one); `p queued` a stream
 * that wakes workers when a task is queued; `p once:<digest>` a hash (t task id, f fingerprint) per idempotency key,
 * expiring with its task.
 *
 * The fair queue. Every queued task belongs to a group: `o:<owner>`, or `-` for the tasks without an owner. Each has a
 * turn: one after the turn of its group's previous task still queued (any type), and at least one after the last turn
 * claimed of its type; a claim takes the lowest turn among the types asked for, the oldest on a tie. So groups take
 * turns, one task each per turn, and a group keeps its own order. It is kept in (`T` is the SHA-1 of a type, `G` of a
 * group, 40 hex digits each; turns and `seq`, which counts enqueues and breaks ties, have 15 digits):
 * - `p lanes`: a sorted set (one score, ordered by name) of every queued task as `T G <seq> <turn> <task id>`
 *   (without the spaces): a lane is the members that start with `T G`, oldest first; its head is one ZRANGEBYLEX.
 * - `p ready`: a sorted set (ordered by name) holding each lane's head as `T <turn> <seq> <group>`, so the lowest
 *   member starting with `T` is the next task of that type: O(log n) per type, however many tasks or groups wait.
 * - `p queues`: one hash for all the counters, each field there only while it means something: `seq`;
 *   `claimed:<type>` the last turn claimed; `type:<type>` and `queued:<group>` how many wait (for `maxQueued` and
 *   `maxQueuedPerOwner`); `next:<group>` the group's next turn while it has tasks queued; `running:<group>` its
 *   claimed, unfinished tasks (for `concurrencyPerOwner`); `parked:<group>` the types (JSON list of `T`) whose heads
 *   a claim took out of `ready` because the group was at `concurrencyPerOwner`: they are offered again when one of
 *   its tasks finishes. A claim thus never passes over the same full group twice.
 * So nothing is kept per owner but its idempotency keys, which expire with their tasks, and fields of `p queues`,
 * removed once zero; the queue's keys are deleted by Redis when empty.
 */

export const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

export const FINISHED = `local function finished(st) return st == 'completed' or st == 'failed' or st == 'cancelled' end`;

/** The fair queue's helpers, shared by the scripts that queue, claim and finish tasks (see the header). */
export const QUEUES = `local function pad(n) return string.format('%015d', n) end
-- The head of the group's lane of the type T (a SHA-1), or nil.
local function laneHead(lanes, T, group)
  local lane = T .. redis.sha1hex(group)
  return redis.call('ZRANGEBYLEX', lanes, '[' .. lane, '[' .. lane .. '~', 'LIMIT', 0, 1)[1]
end
-- A lane entry's seq, turn and task id.
local function laneEntry(entry)
  return string.sub(entry, 81, 95), tonumber(string.sub(entry, 96, 110)), string.sub(entry, 111)
end
local function readyEntry(T, turn, seq, group) return T .. pad(turn) .. seq .. group end
-- Offers the head of the group's lane of that type (if any) to claims.
local function offer(lanes, ready, T, group)
  local head = laneHead(lanes, T, group)
  if head then
    local seq, turn = laneEntry(head)
    redis.call('ZADD', ready, 0, readyEntry(T, turn, seq, group))
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
local function released(state, lanes, ready, group)
  if redis.call('HINCRBY', state, 'running:' .. group, -1) <= 0 then redis.call('HDEL', state, 'running:' .. group) end
  local parked = redis.call('HGET', state, 'parked:' .. group)
  if not parked then return end
  redis.call('HDEL', state, 'parked:' .. group)
  for _, T in ipairs(cjson.decode(parked)) do offer(lanes, ready, T, group) end
end
-- A queued task finished (cancelled): it leaves its lane, and the lane's next task takes its place in ready.
local function dequeued(state, lanes, ready, type, group, entry)
  local T = redis.sha1hex(type)
  local head = laneHead(lanes, T, group)
  redis.call('ZREM', lanes, entry)
  if head == entry then
    local seq, turn = laneEntry(entry)
    if redis.call('ZREM', ready, readyEntry(T, turn, seq, group)) == 1 then offer(lanes, ready, T, group) end
  end
  unqueued(state, type, group)
end`;
