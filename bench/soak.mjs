// Soak: pushes TASKS (default 1,000,000) short tasks through a TaskRunner on the memory store with a short TTL,
// and checks that memory returns to its baseline once the TTLs have passed. Not a test: `npm run soak`.
// Bounded: it stops starting tasks after MAX_SECONDS (default 600) and reports what it did.
// Env: TASKS, CONCURRENCY (64), TTL_MS (2000), MAX_SECONDS, TOLERANCE_MB (8).
import { TaskRunner, MemoryStore } from '../dist/index.mjs';

const TASKS = Number(process.env.TASKS ?? 1_000_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const TTL_MS = Number(process.env.TTL_MS ?? 2_000);
const MAX_SECONDS = Number(process.env.MAX_SECONDS ?? 600);
const TOLERANCE_MB = Number(process.env.TOLERANCE_MB ?? 8);
const BATCH = 1_000;
const IN_FLIGHT = 5_000;

if (typeof globalThis.gc !== 'function') {
  console.error('soak: run with node --expose-gc (npm run soak does)');
  process.exit(2);
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function settledMemory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(50);
  }
  return process.memoryUsage();
}

const store = new MemoryStore();
const runner = new TaskRunner({ store, concurrency: CONCURRENCY, ttlMs: TTL_MS, maxQueued: IN_FLIGHT * 2 });
let finished = 0;
runner.on('event', (_id, event) => {
  if (event.event === 'complete' || event.event === 'failed' || event.event === 'cancelled') finished++;
});
runner.define('short', async (job) => {
  job.progress(50, 'half');
  return { n: job.input };
});

// Warm up (JIT, maps at their working size), let that expire, then take the baseline.
for (let i = 0; i < 2_000; i++) await runner.start('short', i);
while (finished < 2_000) await sleep(10);
await sleep(TTL_MS + 500);
const baseline = await settledMemory();
console.log(`soak: ${TASKS} tasks, concurrency ${CONCURRENCY}, ttlMs ${TTL_MS}`);
console.log(`baseline   heapUsed ${mb(baseline.heapUsed)} MB, rss ${mb(baseline.rss)} MB`);

const startedAt = Date.now();
const target = finished + TASKS;
let started = 0;
let peakHeap = 0;
let peakRss = 0;
const sampler = setInterval(() => {
  const { heapUsed, rss } = process.memoryUsage();
  peakHeap = Math.max(peakHeap, heapUsed);
  peakRss = Math.max(peakRss, rss);
}, 100);
const progress = setInterval(() => {
  const s = (Date.now() - startedAt) / 1000;
  console.log(`  ${s.toFixed(0)} s: ${started} started, ${finished - 2_000} finished, ${store.size} held`);
}, 5_000);

let stoppedEarly = false;
while (started < TASKS) {
  if (Date.now() - startedAt > MAX_SECONDS * 1000) {
    stoppedEarly = true;
    break;
  }
  if (started - (finished - 2_000) > IN_FLIGHT) {
    await sleep(1);
    continue;
  }
  const count = Math.min(BATCH, TASKS - started);
  await Promise.all(Array.from({ length: count }, (_, i) => runner.start('short', started + i)));
  started += count;
}
while (finished < 2_000 + started) await sleep(10);
const elapsed = (Date.now() - startedAt) / 1000;
clearInterval(progress);
clearInterval(sampler);
console.log(`ran        ${started} tasks in ${elapsed.toFixed(1)} s (${Math.round(started / elapsed)} tasks/s)`);
console.log(`peak       heapUsed ${mb(peakHeap)} MB, rss ${mb(peakRss)} MB, ${store.size} tasks held at the end`);

await sleep(TTL_MS + 1_000);
const after = await settledMemory();
const grown = (after.heapUsed - baseline.heapUsed) / 1024 / 1024;
console.log(`after TTL  heapUsed ${mb(after.heapUsed)} MB, rss ${mb(after.rss)} MB, ${store.size} tasks held`);
const ok = store.size === 0 && grown <= TOLERANCE_MB && !stoppedEarly && target === finished;
console.log(
  `${ok ? 'OK' : 'NOT OK'}: heap ${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MB over the baseline ` +
    `(tolerance ${TOLERANCE_MB} MB), ${store.size} tasks held${stoppedEarly ? `, stopped after ${MAX_SECONDS} s` : ''}`,
);
await runner.close();
process.exitCode = ok ? 0 : 1;
