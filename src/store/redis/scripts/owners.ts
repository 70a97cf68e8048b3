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
