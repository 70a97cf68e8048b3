/**
 * KEYS: task, events, output.
 * ARGV: snapshot, status, event, data, historyLimit, ttlMs, finished (1/0), condition ('' or 'c:' .. last id),
 * maxHistoryBytes, token, the writer's previous event id ('' when it knows none), the output change ('' none,
 * 'a' .. text appends it, 'c' clears the output), publish ('1' on a cluster: PUBLISH the stream's name on a channel of
 * that name, which wakes the readers of other processes).
 * Returns {'ok', id, first id, idempotency key ('' for none)} | {'finished', status} | {'conflict'}.
 * The token (unique per commit call) makes a commit idempotent: ioredis resends a command whose reply a reset
 * connection lost, and a resend of a commit that already ran answers {'ok', the id it stored, ...} and writes
 * nothing, before any other check (so a resent terminal commit is not 'finished'). The last 4 tokens are kept, so
 * commits of other processes landing between the run and its resend do not defeat it.
 * The history is trimmed exactly, oldest first, to at most historyLimit entries and maxHistoryBytes bytes of data
 * (the latest entry is always kept): usually one XDEL per commit once a task is at its limit.
 * A finished snapshot starts the TTLs; the caller then runs FINISH (the queue's side: lease, lane, running slot,
 * idempotency key) and, after a first commit (its id is the first id), OWN.
 */
export const COMMIT = `local task = redis.call('HMGET', KEYS[1], 'r', 'st', 'l', 'f', 'k')
local recent = task[1] or ''
for token, stored in string.gmatch(recent, '([^,:]+):([^,]+)') do
  if token == ARGV[10] then return {'ok', stored, task[4] or '', task[5] or ''} end
end
local st = task[2]
if st == 'completed' or st == 'failed' or st == 'cancelled' then return {'finished', st} end
local last = task[3] or ''
if ARGV[8] ~= '' and ARGV[8] ~= 'c:' .. last then return {'conflict'} end
-- A task Redis forgot (restarted without persistence) keeps its chain: the writer says which event came before.
local previous = last
if previous == '' then previous = ARGV[11] end
local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[3], 'd', ARGV[4], 'p', previous)
local first = task[4]
if last == '' then first = id end
local bytes = (tonumber(redis.call('HGET', KEYS[1], 'b')) or 0) + #ARGV[4]
local len = redis.call('XLEN', KEYS[2])
local maxLen, maxBytes = tonumber(ARGV[5]), tonumber(ARGV[9])
while len > 1 and (len > maxLen or bytes > maxBytes) do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local f = oldest[2]
  for i = 1, #f, 2 do if f[i] == 'd' then bytes = bytes - #f[i + 1] end end
  redis.call('XDEL', KEYS[2], oldest[1])
  len = len - 1
end
local tokens = {}
for pair in string.gmatch(recent, '[^,]+') do tokens[#tokens + 1] = pair end
tokens[#tokens + 1] = ARGV[10] .. ':' .. id
recent = table.concat(tokens, ',', math.max(1, #tokens - 3))
redis.call('HSET', KEYS[1], 's', ARGV[1], 'st', ARGV[2], 'l', id, 'f', first, 'h', ARGV[5], 'b', bytes, 'r', recent)
local change = string.sub(ARGV[12], 1, 1)
if change == 'c' then redis.call('DEL', KEYS[3]) end
if change == 'a' then redis.call('APPEND', KEYS[3], string.sub(ARGV[12], 2)) end
if ARGV[7] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
if ARGV[13] == '1' then redis.call('PUBLISH', KEYS[2], id) end
return {'ok', id, first, task[5] or ''}`;

/**
 * KEYS: task, events. ARGV: snapshot, historyLimit, idempotency key ('' for none), publish ('1' on a cluster).
 * Returns the id of the task's first event.
 * A queued task's first event (`status`, its queued snapshot), once: the enqueuer runs it after ENQUEUE queued the
 * task, and a claim that got there first runs it from the queue's record, so whichever comes second finds the first
 * id (f) and writes nothing.
 */
export const CREATE = `local first = redis.call('HGET', KEYS[1], 'f')
if first then return first end
local id = redis.call('XADD', KEYS[2], '*', 'e', 'status', 'd', ARGV[1], 'p', '')
redis.call('HSET', KEYS[1], 's', ARGV[1], 'st', 'queued', 'l', id, 'f', id, 'h', ARGV[2], 'b', #ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'k', ARGV[3]) end
if ARGV[4] == '1' then redis.call('PUBLISH', KEYS[2], id) end
return id`;
