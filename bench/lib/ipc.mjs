// Request/response over the IPC channel of a child process: the harness calls, the child answers.
import { spawn } from 'node:child_process';

/**
 * Starts `script` as its own Node process with `--expose-gc` and an IPC channel, and resolves once it sends
 * `{ ready: true, ... }`. Returns `{ child, info, call(op, args, timeoutMs), stop() }`.
 */
export async function startProcess(script, { args = [], nodeArgs = [], startTimeoutMs = 15_000 } = {}) {
  const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, script, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 1;
  let exited = false;

  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} did not start within ${startTimeoutMs} ms`)),
      startTimeoutMs,
    );
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`${script} exited before it was ready (${code ?? signal})`)));
    child.on('message', function onReady(message) {
      if (message?.ready !== true) return;
      clearTimeout(timer);
      child.off('message', onReady);
      resolve(message);
    });
  });
  child.removeAllListeners('exit');
  child.on('exit', (code, signal) => {
    exited = true;
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal})`));
    }
    pending.clear();
  });
  child.on('message', (message) => {
    const waiting = pending.get(message?.id);
    if (waiting === undefined) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.error !== undefined) waiting.reject(new Error(`${script} ${waiting.op}: ${message.error}`));
    else waiting.resolve(message.result);
  });

  function call(op, callArgs = {}, timeoutMs = 120_000) {
    if (exited) return Promise.reject(new Error(`${script} has exited`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${script} ${op}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer, op });
      child.send({ id, op, args: callArgs });
    });
  }

  /** Asks the child to exit, then kills it (this one child, by its pid) if it has not after `graceMs`. */
  async function stop(graceMs = 3000) {
    if (exited) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    try {
      child.send({ id: 0, op: 'exit', args: {} });
    } catch {
      // the channel is already closed
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  return { child, pid: child.pid, info, call, stop };
}

/** The child side: answers `{ id, op, args }` with `ops[op](args)`; `exit` ends the process. */
export function serve(ops, readyInfo = {}) {
  process.on('message', async ({ id, op, args }) => {
    if (op === 'exit') process.exit(0);
    try {
      const handler = ops[op];
      if (handler === undefined) throw new Error(`unknown op ${op}`);
      const result = await handler(args);
      process.send({ id, result });
    } catch (error) {
      process.send({ id, error: error?.stack ?? String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true, ...readyInfo });
}

/** The soft limit on open files of this process, from /proc/self/limits (Linux), or undefined. */
export async function openFileLimit() {
  const { readFile } = await import('node:fs/promises');
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (match === null) return undefined;
    return match[1] === 'unlimited' ? Infinity : Number(match[1]);
  } catch {
    return undefined;
  }
}
