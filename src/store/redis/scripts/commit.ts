import { FINISHED, QUEUES } from './shared';

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
