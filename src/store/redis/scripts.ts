/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, which is what makes a commit (event + snapshot),
 * a claim (pop + lease) and a takeover (expired lease -> new holder) single steps. Time is Redis's own (TIME), so
 * the clocks of the processes sharing it do not matter.
 *
 * Keys (`p` is the key prefix): `p task:<id>` a hash (s snapshot JSON, st status, l latest event id, h history limit,
 * b bytes of event data the stream holds, i input JSON while queued, r the tokens of its last 4 commits with the ids
 * they stored, `token:id,...`); `p events:<id>` the task's stream (e event, d data, p previous event id);
 * `p queue:<type>` a list of queued task ids; `p leases` a sorted set of task id -> lease deadline (ms);
 * `p owners` a hash of task id -> lease holder (`Lease.holder`: a runner's name); `p queued` a stream that wakes
 * workers when a task is queued;
 * `p owner:<owner>` a stream with one entry (t task id) per task of that owner, written by its first commit;
 * `p output:<id>` a string, the task's output (`job.write()`), appended by the same commit as its `output` event.
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const FINISHED = `local function finished(st) return st == 'completed' or st == 'failed' or st == 'cancelled' end`;

/**
 * KEYS: task, events, leases, owners, queue, queued, the owner's index, output.
 * ARGV: snapshot, status, event, data, historyLimit, ttlMs, finished (1/0), condition ('' or 'c:' .. last id),
 * task id, enqueue (1/0), input, type, owner ('' for none), maxHistoryBytes, maxQueued ('' for none), token, the
 * writer's previous event id ('' when it knows none), the output change ('' none, 'a' .. text appends, 'c' clears),
 * then the types whose queues count against maxQueued.
 * Returns {'ok', id} | {'finished', status} | {'conflict'} | {'full'}.
 * The token (unique per commit call) makes a commit idempotent: ioredis resends a command whose reply a reset
 * connection lost, and a resend of a commit that already ran answers {'ok', the id it stored} and writes nothing,
 * before any other check (so a resent terminal commit is not 'finished', nor a resent enqueue 'full'). The last 4
 * tokens are kept, so commits of other processes landing between the run and its resend do not defeat it.
 * The history is trimmed exactly, oldest first, to at most historyLimit entries and maxHistoryBytes bytes of data
 * (the latest entry is always kept): usually one XDEL per commit once a task is at its limit.
 */
export const COMMIT = `${FINISHED}
local task = redis.call('HMGET', KEYS[1], 'r', 'st', 'l')
local recent = task[1] or ''
for token, stored in string.gmatch(recent, '([^,:]+):([^,]+)') do
  if token == ARGV[16] then return {'ok', stored} end
end
if ARGV[10] == '1' and ARGV[15] ~= '' then
  local queues = string.sub(KEYS[5], 1, #KEYS[5] - #ARGV[12]) -- 'p queue:', from this type's queue key
  local queued = 0
  for i = 19, #ARGV do queued = queued + redis.call('LLEN', queues .. ARGV[i]) end
  if queued >= tonumber(ARGV[15]) then return {'full'} end
end
local st = task[2]
if finished(st) then return {'finished', st} end
local last = task[3] or ''
if ARGV[8] ~= '' and ARGV[8] ~= 'c:' .. last then return {'conflict'} end
-- A task Redis forgot (restarted without persistence) keeps its chain: the writer says which event came before.
local previous = last
if previous == '' then previous = ARGV[17] end
local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[3], 'd', ARGV[4], 'p', previous)
local bytes = (tonumber(redis.call('HGET', KEYS[1], 'b')) or 0) + #ARGV[4]
local len = redis.call('XLEN', KEYS[2])
local maxLen, maxBytes = tonumber(ARGV[5]), tonumber(ARGV[14])
while len > 1 and (len > maxLen or bytes > maxBytes) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local f = oldest[2]
  for i = 1, #f, 2 do if f[i] == 'd' then bytes = bytes - #f[i + 1] end end
  redis.call('XDEL', KEYS[2], oldest[1])
  len = len - 1
end
local tokens = {}
for pair in string.gmatch(recent, '[^,]+') do tokens[#tokens + 1] = pair end
tokens[#tokens + 1] = ARGV[16] .. ':' .. id
recent = table.concat(tokens, ',', math.max(1, #tokens - 3))
redis.call('HSET', KEYS[1], 's', ARGV[1], 'st', ARGV[2], 'l', id, 'h', ARGV[5], 'b', bytes, 'r', recent)
local change = string.sub(ARGV[18], 1, 1)
if change == 'c' then redis.call('DEL', KEYS[8]) end
if change == 'a' then redis.call('APPEND', KEYS[8], string.sub(ARGV[18], 2)) end
if last == '' and ARGV[13] ~= '' then redis.call('XADD', KEYS[7], '*', 't', ARGV[9]) end
if ARGV[10] == '1' then
  redis.call('HSET', KEYS[1], 'i', ARGV[11])
  redis.call('RPUSH', KEYS[5], ARGV[9])
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', '1000', '*', 't', ARGV[12])
end
if ARGV[7] == '1' then
  redis.call('HDEL', KEYS[1], 'i')
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[8], ARGV[6])
  redis.call('ZREM', KEYS[3], ARGV[9])
  redis.call('HDEL', KEYS[4], ARGV[9])
end
return {'ok', id}`;

/**
 * KEYS: leases, owners. ARGV: prefix, holder, leaseMs, type...
 * Pops queued ids of the types in order, skipping tasks that finished while queued (cancelled); leases the first
 * still queued. Returns {id, snapshot, last id, input} or nil.
 */
export const CLAIM = `${NOW}
for i = 4, #ARGV do
  local queue = ARGV[1] .. 'queue:' .. ARGV[i]
  while true do
    local id = redis.call('LPOP', queue)
    if not id then break end
    local v = redis.call('HMGET', ARGV[1] .. 'task:' .. id, 'st', 's', 'l', 'i')
    if v[1] == 'queued' then
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)
      redis.call('HSET', KEYS[2], id, ARGV[2])
      return {id, v[2], v[3], v[4] or ''}
    end
  end
end
return false`;

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
