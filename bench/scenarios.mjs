// The scenarios. Each gets a fresh server process (`server`) and a fresh load client (`client`), both driven over
// IPC, and returns flat metrics { key: number } for one pass. See ./report.mjs for what each key means.
import { KOA_TARGETS, READY_TOKEN, SSE_TARGETS, STALLED_TARGETS } from './config.mjs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { heapByKind, liveObjects } from './lib/heap.mjs';
import { cpuDelta, KB, MB, summarize } from './lib/stats.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `count` streams or throws: a benchmark with missing subscribers would measure something else. */
async function openStreams({ server, client, target }, paths, count, batch = 500) {
  const opened = await client.call('open', {
    port: server.info.port,
    paths,
    count,
    batch,
    readyToken: READY_TOKEN[target],
  });
  if (opened.failed > 0)
    throw new Error(`${target}: ${opened.failed} of ${count} streams failed to open: ${opened.errors.join('; ')}`);
  return opened;
}

/** Waits (up to `timeoutMs`) until the server holds no sockets, so closes have been processed. */
async function drained(server, timeoutMs = 10_000) {
  const until = performance.now() + timeoutMs;
  let counts;
  do {
    counts = await server.call('counts');
    if (counts.sockets === 0) break;
    await sleep(50);
  } while (performance.now() < until);
  await sleep(100);
  return server.call('counts');
}

/** Publishes `n` events (at `rate`/s, or as fast as possible) and returns the client's view of their delivery. */
async function deliver({ server, client }, n, { rate = 0, burst = 1 } = {}) {
  await client.call('track', { n });
  await server.call('emit', { count: n, rate, burst });
  return client.call('wait', { stallMs: 3000 });
}

async function idle(ctx) {
  const { server, client, cfg } = ctx;
  const { paths } = await server.call('prepare', { channels: 1 });
  const start = await server.call('stats', { gc: true });
  const steps = [];
  let openMs = 0;
  for (const streams of cfg.idle.steps) {
    const previous = steps.at(-1)?.streams ?? 0;
    openMs += (await openStreams(ctx, paths, streams - previous, cfg.idle.batch)).ms;
    const { mem } = await server.call('stats', { gc: true });
    steps.push({ streams, rss: mem.rss, heap: mem.heapUsed });
  }
  await client.call('closeAll');
  await drained(server);
  const end = await server.call('stats', { gc: true });
  const first = steps[0];
  const last = steps.at(-1);
  const metrics = {
    rssPerStreamKB: (last.rss - first.rss) / (last.streams - first.streams) / KB,
    heapPerStreamKB: (last.heap - first.heap) / (last.streams - first.streams) / KB,
    rssAtMaxMB: last.rss / MB,
    heapAtMaxMB: last.heap / MB,
    heapAfterCloseMB: (end.mem.heapUsed - start.mem.heapUsed) / MB,
    openPerSec: (last.streams / openMs) * 1000,
  };
  for (const step of steps) {
    metrics[`rssMB@${step.streams}`] = step.rss / MB;
    metrics[`heapMB@${step.streams}`] = step.heap / MB;
  }
  metrics['heapMB@start'] = start.mem.heapUsed / MB;
  metrics['heapMB@closed'] = end.mem.heapUsed / MB;
  return metrics;
}

async function fanout(ctx) {
  const { server, cfg } = ctx;
  const { subscribers, events, warmupEvents, burst } = cfg.fanout;
  const { paths } = await server.call('prepare', { channels: 1 });
  await openStreams(ctx, paths, subscribers);
  await deliver(ctx, warmupEvents, { burst });
  const before = await server.call('stats', { gc: true });
  if (ctx.profileFile !== undefined) await server.call('profileStart');
  const seen = await deliver(ctx, events, { burst });
  if (ctx.profileFile !== undefined) await server.call('profileStop', { file: ctx.profileFile });
  const after = await server.call('stats');
  const cpu = cpuDelta(before.cpu, after.cpu);
  const delivered = seen.deliveries;
  return {
    eventsPerSec: delivered / (seen.spanMs / 1000),
    cpuPerEventUs: cpu.total / delivered,
    userPerEventUs: cpu.user / delivered,
    sysPerEventUs: cpu.system / delivered,
    clientCpuPerEventUs: (seen.cpu.user + seen.cpu.system) / delivered,
    lost: seen.lost,
    dup: seen.dup,
    ooo: seen.ooo + seen.malformed,
    p99Ms: seen.latencyMs.p99,
  };
}

async function latency(ctx) {
  const { server, cfg } = ctx;
  const { subscribers, rates, seconds, warmupSeconds } = cfg.latency;
  const { paths } = await server.call('prepare', { channels: 1 });
  await openStreams(ctx, paths, subscribers);
  await deliver(ctx, Math.ceil(rates[0] * warmupSeconds), { rate: rates[0] });
  const metrics = {};
  for (const rate of rates) {
    const seen = await deliver(ctx, Math.round(rate * seconds), { rate });
    for (const [q, ms] of Object.entries(seen.latencyMs)) metrics[`${q}Ms@${rate}`] = ms;
    metrics[`lost@${rate}`] = seen.lost + seen.dup + seen.ooo;
  }
  return metrics;
}

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** The server's live objects (count, bytes) from a heap snapshot; the snapshot file is deleted. */
async function snapshotObjects(server) {
  const file = join(tmpdir(), `bench-${process.pid}-${server.pid}-${Date.now()}.heapsnapshot`);
  await server.call('heapSnapshot', { file });
  try {
    return liveObjects(heapByKind(file));
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Connect / first byte / disconnect, `parallel` at once, in `segments` equal parts; after each part the server
 * drops its closed sockets and reports its heap after a forced GC. The leak signals are the growth over the second
 * half: of heapUsed (as a difference and a fitted slope, both noisy: V8 moves heapUsed by a few hundred KB between
 * GCs for its own reasons), and of the objects counted in heap snapshots, V8's internals left out (sharp: a leak of
 * one object per cycle shows as thousands).
 */
async function churn(ctx) {
  const { server, client, cfg } = ctx;
  const { cycles, parallel, warmupCycles, segments } = cfg.churn;
  const { paths } = await server.call('prepare', { channels: 1 });
  const run = (n) => client.call('churn', { port: server.info.port, path: paths[0], cycles: n, parallel });
  await run(warmupCycles);
  await drained(server);
  const start = await server.call('stats', { gc: true });
  const perSegment = Math.floor(cycles / segments);
  const middle = Math.floor(segments / 2);
  let ms = 0;
  let cpu = 0;
  let errors = 0;
  const done = [0];
  const heaps = [start.mem.heapUsed];
  const objects = [];
  for (let segment = 1; segment <= segments; segment++) {
    const before = await server.call('stats');
    if (ctx.profileFile !== undefined && segment === segments) await server.call('profileStart');
    const result = await run(perSegment);
    if (ctx.profileFile !== undefined && segment === segments)
      await server.call('profileStop', { file: ctx.profileFile });
    const after = await server.call('stats');
    ms += result.ms;
    errors += result.errors;
    cpu += cpuDelta(before.cpu, after.cpu).total;
    await drained(server);
    done.push(done.at(-1) + perSegment);
    heaps.push((await server.call('stats', { gc: true })).mem.heapUsed);
    if (segment === middle || segment === segments) objects.push(await snapshotObjects(server));
  }
  const total = done.at(-1);
  const secondHalf = total - done[middle];
  const end = await server.call('counts');
  const leftover = (key) => (end[key] ?? 0) - (start.counts[key] ?? 0);
  return {
    cyclesPerSec: (total / ms) * 1000,
    cpuPerCycleUs: cpu / total,
    heapGrowth2ndHalfKB: (heaps.at(-1) - heaps[middle]) / KB,
    heapSlope2ndHalfBytesPerCycle: slope(done.slice(middle), heaps.slice(middle)),
    heapGrowthTotalKB: (heaps.at(-1) - heaps[0]) / KB,
    objectsPer1kCycles2ndHalf: ((objects[1].count - objects[0].count) / secondHalf) * 1000,
    objectBytesPerCycle2ndHalf: (objects[1].bytes - objects[0].bytes) / secondHalf,
    errors,
    leftSockets: end.sockets,
    leftTimers: leftover('timers'),
    leftStreams: (end.streams ?? 0) + (end.sessions ?? 0) + (end.responses ?? 0) + (end.subscriptions ?? 0),
    leftHandles: (end.resources.TCPSocketWrap ?? 0) - (start.counts.resources.TCPSocketWrap ?? 0),
  };
}

/**
 * All the Koa targets run at once (idle servers cost nothing) and take turns under load in short windows, so a
 * change in what else the machine is doing hits each of them alike: a difference of a few percent stays visible.
 */
async function overhead({ servers, client, cfg }) {
  const { connections, windowMs, rounds, warmupMs } = cfg.overhead;
  const load = (server, ms) => client.call('load', { port: server.info.port, path: '/json', connections, ms });
  const totals = {};
  for (const [target, server] of Object.entries(servers)) {
    await load(server, warmupMs);
    await server.call('stats', { gc: true });
    totals[target] = { requests: 0, responses: 0, ms: 0, cpu: 0, rounds: [] };
  }
  const targets = Object.keys(servers);
  for (let round = 0; round < rounds; round++) {
    // Rotate who goes first in each round.
    for (const target of [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)]) {
      const server = servers[target];
      const before = await server.call('stats');
      const result = await load(server, windowMs);
      const after = await server.call('stats');
      if (result.notOk > 0 || result.errors > 0) {
        throw new Error(`overhead ${target}: ${result.notOk} non-200 answers, ${result.errors} socket errors`);
      }
      const total = totals[target];
      total.requests += result.requests;
      total.responses += result.responses;
      total.ms += result.ms;
      total.cpu += cpuDelta(before.cpu, after.cpu).total;
      total.rounds.push(result.requests / result.ms);
    }
  }
  const base = totals[KOA_TARGETS[0]];
  const metrics = {};
  for (const [target, total] of Object.entries(totals)) {
    metrics[target] = {
      requestsPerSec: (total.requests / total.ms) * 1000,
      // The same round's windows are next to each other in time: their ratio cancels most of the machine's drift.
      pairedRatio: summarize(total.rounds.map((rate, round) => rate / base.rounds[round])).median,
      cpuPerRequestUs: total.cpu / total.responses,
    };
  }
  return metrics;
}

/** The median of `values` (NaN when empty). */
const median = (values) => summarize(values).median;

/**
 * One task, `healthy` streams that read everything and, in the `with` variant, one client that sends its request
 * and never reads a byte; `events` progress events of ~`frameBytes` each, `burst` per event-loop turn. A server that
 * coalesces a backed-up client's progress skips events, so the client waits until every healthy stream has had the
 * newest (the last) one, and reports how late that came, how many events each stream got, and the latency of every
 * event received. The warm-up runs before the stalled client connects; it then joins the feed like any other.
 */
async function stalled(ctx) {
  const { server, client, cfg, target, variant } = ctx;
  const { healthy, events, warmupEvents, burst, frameBytes } = cfg.stalled;
  const { paths } = await server.call('prepare', { channels: 1 });
  await openStreams(ctx, paths, healthy);
  // An event's lines with the stamped message (`seq:hrtime`) are ~80 bytes, for every target; padding adds the rest.
  const padBytes = Math.max(0, frameBytes - 80);
  await client.call('track', { n: warmupEvents, latest: true });
  await server.call('emit', { count: warmupEvents, burst, padBytes });
  await client.call('wait', { stallMs: 3000 });
  if (variant === 'with') {
    await server.call('captureNext');
    await client.call('stall', { port: server.info.port, path: paths[0], readyToken: READY_TOKEN[target] });
  }
  const before = await server.call('stats', { gc: true });
  if (ctx.profileFile !== undefined) await server.call('profileStart');
  await client.call('track', { n: events, latest: true });
  await server.call('emit', { count: events, burst, padBytes });
  const seen = await client.call('wait', { stallMs: 3000 });
  if (ctx.profileFile !== undefined) await server.call('profileStop', { file: ctx.profileFile });
  const after = await server.call('stats');
  // What the stalled client's socket was handed, sent or waiting: what the server spent on it.
  const stalledBytes = variant === 'with' ? (await server.call('capturedBytes')).bytesWritten : NaN;
  const cpu = cpuDelta(before.cpu, after.cpu);
  const frames = seen.newest.map((s) => s.frames);
  const delays = seen.newest.map((s) => s.delayMs);
  const all = frames.length === healthy;
  return {
    newestP50Ms: median(delays),
    newestMaxMs: all ? Math.max(...delays) : NaN,
    latencyP50Ms: seen.latencyMs.p50,
    latencyMaxMs: seen.latencyMs.max,
    framesMin: all ? Math.min(...frames) : 0,
    framesMedian: median(frames),
    missedNewest: healthy - frames.length,
    cpuMs: cpu.total / 1000,
    userMs: cpu.user / 1000,
    sysMs: cpu.system / 1000,
    dupOoo: seen.dup + seen.ooo + seen.malformed,
    stalledSocketMB: stalledBytes / MB,
  };
}

/** The stalled client's cost in one pass: each figure with it divided by the same figure without it. */
function stalledPair(metrics) {
  for (const key of ['newestP50Ms', 'newestMaxMs', 'framesMin', 'cpuMs']) {
    metrics[`${key}@ratio`] = metrics[`${key}@with`] / metrics[`${key}@without`];
  }
  return metrics;
}

async function manyTasks(ctx) {
  const { server, cfg } = ctx;
  const { tasks, subscribersPerTask, events } = cfg.manyTasks;
  const start = await server.call('stats', { gc: true });
  const setupStarted = performance.now();
  const { paths } = await server.call('prepare', { channels: tasks });
  await openStreams(ctx, paths, tasks * subscribersPerTask);
  const setupMs = performance.now() - setupStarted;
  const before = await server.call('stats', { gc: true });
  const seen = await deliver(ctx, events);
  const after = await server.call('stats');
  await server.call('finish');
  return {
    totalMs: seen.spanMs,
    cpuMs: cpuDelta(before.cpu, after.cpu).total / 1000,
    heapMB: (before.mem.heapUsed - start.mem.heapUsed) / MB,
    rssMB: (before.mem.rss - start.mem.rss) / MB,
    setupMs,
    lost: seen.lost + seen.dup + seen.ooo,
  };
}

/**
 * In run order. `targets[0]` is the baseline of the scenario. A `together` scenario gets every target's server at
 * once (`servers`) and returns { target: metrics }. A scenario with `variants` runs once per variant (`ctx.variant`)
 * and `pair(metrics)` adds what compares them.
 */
export const SCENARIOS = [
  { name: 'idle', targets: SSE_TARGETS, run: idle },
  { name: 'fanout', targets: SSE_TARGETS, run: fanout },
  { name: 'latency', targets: SSE_TARGETS, run: latency },
  { name: 'churn', targets: SSE_TARGETS, run: churn },
  { name: 'overhead', targets: KOA_TARGETS, run: overhead, together: true },
  { name: 'manyTasks', targets: SSE_TARGETS, run: manyTasks },
  // Each variant on fresh processes, the two one right after the other (see run.mjs); metrics are `key@variant`.
  { name: 'stalled', targets: STALLED_TARGETS, run: stalled, variants: ['without', 'with'], pair: stalledPair },
];
