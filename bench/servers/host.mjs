// One benchmark target as its own process: `node --expose-gc bench/servers/host.mjs <target>`.
// It loads ./<target>.mjs, listens on 127.0.0.1, and answers the harness over IPC (see bench/lib/ipc.mjs).
//
// A target module exports `createTarget()` resolving to:
//   server                    the http.Server (not yet listening)
//   prepare({ channels })     -> { paths }: one event-stream path per channel (a task, a channel, an array)
//   publish(channel, seq, percent, pad) sends progress event `seq` on one channel, stamped with process.hrtime.bigint()
//                             (message `${seq}:${hrtime}${pad}`: `pad` makes the frame the size a scenario wants)
//   finish()                  ends every channel (terminal event / close)
//   counts()                  -> target-specific open-stream / listener counts
//   ops                       (optional) more IPC ops of its own, { name: async (args) => result }
// First, so the timer counting wraps the globals before any target code runs.
import { liveTimerCount } from './timers.mjs';
import { writeFile } from 'node:fs/promises';
import { setImmediate } from 'node:timers';
import { writeHeapSnapshot } from 'node:v8';
import { Session } from 'node:inspector/promises';
import { openFileLimit, serve } from '../lib/ipc.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('host.mjs needs node --expose-gc');

const name = process.argv[2];
const { createTarget } = await import(new URL(`./${name}.mjs`, import.meta.url));
const target = await createTarget();
await new Promise((resolve) => target.server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
let channelCount = 0;
/** The connection `captureNext` was asked for (the stalled client's), once it has come. */
let captured;
/** @type {Session | undefined} */
let profiler;

async function collect() {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
  globalThis.gc();
}

const immediate = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Publishes `count` events on every channel: as fast as possible (`burst` rounds of all channels per event-loop
 * turn, then the loop turns so sockets drain), or at `rate` rounds per second on a drift-free schedule. `padBytes`
 * lengthens each event's message (after a space) by that many bytes.
 */
async function emit({ count, rate = 0, burst = 1, padBytes = 0 }) {
  const start = performance.now();
  const periodMs = rate > 0 ? 1000 / rate : 0;
  const pad = padBytes > 0 ? ` ${'x'.repeat(padBytes - 1)}` : '';
  for (let seq = 1; seq <= count; seq++) {
    if (rate > 0) {
      const wait = start + (seq - 1) * periodMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const percent = seq % 101;
    for (let channel = 0; channel < channelCount; channel++) target.publish(channel, seq, percent, pad);
    if (rate === 0 && seq % burst === 0) await immediate();
  }
  await immediate();
  return { ms: performance.now() - start };
}

function resources() {
  const byType = {};
  for (const type of process.getActiveResourcesInfo()) byType[type] = (byType[type] ?? 0) + 1;
  return byType;
}

async function counts() {
  const sockets = await new Promise((resolve) => target.server.getConnections((error, n) => resolve(error ? -1 : n)));
  return { sockets, timers: liveTimerCount(), resources: resources(), ...(await target.counts()) };
}

serve(
  {
    // A target may answer ops of its own (servers/output.mjs does).
    ...target.ops,
    async prepare({ channels }) {
      const result = await target.prepare({ channels });
      channelCount = result.paths.length;
      return result;
    },
    emit,
    async finish() {
      await target.finish();
      channelCount = 0;
      return {};
    },
    /** CPU so far, and memory (after two forced GCs when `gc`), and the counts. */
    async stats({ gc = false } = {}) {
      if (gc) await collect();
      return { cpu: process.cpuUsage(), mem: process.memoryUsage(), counts: await counts(), at: performance.now() };
    },
    counts,
    /** Keeps the next connection that comes, for `capturedBytes`. */
    async captureNext() {
      captured = undefined;
      target.server.once('connection', (socket) => (captured = socket));
      return {};
    },
    /** Bytes handed to the captured connection's socket: sent, or waiting in Node or libuv. */
    async capturedBytes() {
      return { bytesWritten: captured?.bytesWritten ?? NaN };
    },
    /** A heap snapshot (after GC) written to `file`. */
    async heapSnapshot({ file }) {
      await collect();
      return { file: writeHeapSnapshot(file) };
    },
    /** CPU profile of what happens between profileStart and profileStop (V8 sampling profiler, 100 µs). */
    async profileStart() {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
      await profiler.post('Profiler.start');
      return {};
    },
    async profileStop({ file }) {
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      await writeFile(file, JSON.stringify(profile));
      return { file };
    },
  },
  { pid: process.pid, port: target.server.address().port, fileLimit: await openFileLimit() },
);
