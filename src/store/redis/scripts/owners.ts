/**
 * KEYS: the owner's index. ARGV: task id, publish ('1' on a cluster).
 * Adds a task to its owner's index (after the task's first commit), and wakes the readers of other processes.
 */
export const OWN = `local position = redis.call('XADD', KEYS[1], '*', 't', ARGV[1])
if ARGV[2] == '1' then redis.call('PUBLISH', KEYS[1], position) end
return position`;

/**
 * KEYS: the owner's index. ARGV: positions...
 * Deletes the entries of forgotten tasks (the caller checked them: their keys are in other slots), and the index
 * if that left it empty.
 */
export const PRUNE = `for i = 1, #ARGV do redis.call('XDEL', KEYS[1], ARGV[i]) end
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1`;
