// The multi-instance benchmark (`npm run bench` runs it after bench/run.mjs): what crossing processes and losing an
// instance cost, on each shared store, all on 127.0.0.1.
//   cross-instance fan-out  one worker process runs the job; two web instances (`worker: false`) hold the
//                           subscribers; delivered events/s and the latency from job.progress() to the client, at a
//                           steady rate and as fast as it goes. Baseline: the hand-written way, a Redis PUBLISH per
//                           event and a node:http server per instance that SUBSCRIBEs and writes each to its responses.
//   mass resume             streams on instance A behind nginx (A, and B as its backup); A is killed (SIGKILL) while
//                           the job goes on; every client reconnects `retryMs` later through nginx to B with its
//                           Last-Event-ID: time until every client has every event, reconnects/s B absorbed, B's CPU
//                           and memory, lost and duplicate events (over the whole task). A progress event a client
//                           never got is told apart: skipped on one connection (the client fell behind and its
//                           progress was coalesced, as allowed) or across a reconnection (a resume's gap: a defect).
//   many tasks              bench/run.mjs's manyTasks scenario (1,000 tasks × 2 streams) on each store, beside the
//                           memory store and node:http.
//
//   node bench/multi/run.mjs [--quick] [--passes=N] [--only=fanout,resume,manyTasks] [--stores=redis,postgres]
//                            [--resume-rate=EVENTS_PER_S] [--out=FILE | --no-write]
// BENCH_CPU_PROF=b (any process's name: worker, a, b, load, client) writes that process's V8 CPU profile to
// bench/profiles/ when it exits. BENCH_VERBOSE=1 prints the mass resume's reconnections per second and timings.
// A full run writes its tables into BENCHMARKS.md (between the multi markers); --quick prints only.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FULL, QUICK, READY_TOKEN } from '../config.mjs';
import { startProcess } from '../lib/ipc.mjs';
import { describeMachine, describeSource } from '../lib/machine.mjs';
import { cpuDelta, MB, summarize } from '../lib/stats.mjs';
import { formatNumber } from '../report.mjs';
import { SCENARIOS } from '../scenarios.mjs';
import { freePort, startBalancer } from './nginx.mjs';
import { startRedisCluster } from './redis-cluster.mjs';
import { dropAll } from './stores.mjs';

const INSTANCE = new URL('./instance.mjs', import.meta.url).pathname;
const RESUME_LOAD = new URL('./resume-load.mjs', import.meta.url).pathname;
const CLIENT = new URL('../client.mjs', import.meta.url).pathname;
const HOST = new URL('../servers/host.mjs', import.meta.url).pathname;
const BENCHMARKS_MD = new URL('../../BENCHMARKS.md', import.meta.url);
const PROFILES = new URL('../profiles/', import.meta.url).pathname;
const START_MARK = '<!-- multi:start -->';
const END_MARK = '<!-- multi:end -->';

const CONFIG = {
  full: {
    passes: 3,
    fanout: { subscribersPerInstance: 500, rate: 50, seconds: 5, fastEvents: 2000, burst: 10 },
    resume: { streams: 5000, rate: 20, beforeKillMs: 2000, events: 800, retryMs: 1000 },
    manyTasks: FULL.manyTasks,
  },
  quick: {
    passes: 1,
    fanout: { subscribersPerInstance: 100, rate: 50, seconds: 2, fastEvents: 500, burst: 10 },
    resume: { streams: 1000, rate: 20, beforeKillMs: 1000, events: 300, retryMs: 1000 },
    manyTasks: QUICK.manyTasks,
  },
};

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    passes: { type: 'string' },
    only: { type: 'string' },
    stores: { type: 'string' },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'resume-rate': { type: 'string' },
  },
});
const mode = options.quick ? 'quick' : 'full';
const cfg = globalThis.structuredClone(CONFIG[mode]);
if (options.passes !== undefined) cfg.passes = Number(options.passes);
if (options['resume-rate'] !== undefined) {
  // The job's events per second in the mass resume, for as long a job (40 s in a full run).
  cfg.resume.events = Math.round((cfg.resume.events / cfg.resume.rate) * Number(options['resume-rate']));
  cfg.resume.rate = Number(options['resume-rate']);
}
const only = options.only?.split(',') ?? ['fanout', 'resume', 'manyTasks'];

/** The stores this checkout can run: Redis and a Redis Cluster always; PostgreSQL once its entry is built. */
async function availableStores() {
  const stores = ['redis', 'cluster'];
  try {
    await import('koa-sse-tasks/postgres');
    stores.push('postgres');
  } catch {
    // no PostgreSQL entry in this build
  }
  return stores;
}
const stores = options.stores?.split(',') ?? (await availableStores());
// A cluster of the run's own, for every process of it (they inherit BENCH_CLUSTER_NODES).
const cluster = stores.includes('cluster') ? await startRedisCluster() : undefined;
if (cluster !== undefined) process.env.BENCH_CLUSTER_NODES = cluster.nodes;
let runs = 0;
const runIdOf = (what) => `${process.pid}_${++runs}_${what}`;

/** Starts the processes, runs `body` with them, and stops them and the store's data, whatever happens. */
async function withProcesses(store, runId, specs, body) {
  const started = {};
  try {
    for (const [name, script, args] of specs) {
      // BENCH_CPU_PROF=b (a process's name): a V8 CPU profile of that process, written to bench/profiles/ on exit.
      const nodeArgs = process.env.BENCH_CPU_PROF === name ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : [];
      started[name] = await startProcess(script, { args, nodeArgs });
    }
    return await body(started);
  } finally {
    await Promise.all(Object.values(started).map((p) => p.stop()));
    await dropAll(store, runId);
  }
}

async function fanoutPass(target) {
  const { subscribersPerInstance, rate, seconds, fastEvents, burst } = cfg.fanout;
  const baseline = target === 'baseline';
  const store = baseline ? 'redis' : target;
  const runId = runIdOf('fanout');
  const [workerRole, webRole] = baseline ? ['baseline-worker', 'baseline-web'] : ['worker', 'web'];
  return withProcesses(
    store,
    runId,
    [
      ['worker', INSTANCE, [workerRole, store, runId]],
      ['a', INSTANCE, [webRole, store, runId, '0']],
      ['b', INSTANCE, [webRole, store, runId, '0']],
      ['client', CLIENT, []],
    ],
    async ({ worker, a, b, client }) => {
      const { paths } = await worker.call('start', { count: 1 });
      const readyToken = READY_TOKEN[baseline ? 'baseline' : 'koa-sse-tasks'];
      for (const web of [a, b]) {
        const opened = await client.call('open', {
          port: web.info.port,
          paths,
          count: subscribersPerInstance,
          readyToken,
        });
        if (opened.failed > 0) throw new Error(`${target}: ${opened.failed} streams failed to open`);
      }
      const deliver = async (args) => {
        await client.call('track', { n: args.count });
        const before = await Promise.all([worker, a, b].map((p) => p.call('stats')));
        await worker.call('emit', args, 300_000);
        const seen = await client.call('wait', { stallMs: 5000 }, 300_000);
        const after = await Promise.all([worker, a, b].map((p) => p.call('stats')));
        const cpu = before.reduce((sum, s, i) => sum + cpuDelta(s.cpu, after[i].cpu).total, 0);
        // Streams whose client fell behind, so that their progress was coalesced (allowed: docs/protocol.md).
        const coalesced = before.reduce((sum, s, i) => sum + (after[i].coalesced ?? 0) - (s.coalesced ?? 0), 0);
        return { seen, cpu, coalesced };
      };
      await deliver({ count: 20, rate }); // warm-up
      const steady = await deliver({ count: rate * seconds, rate });
      const fast = await deliver({ count: fastEvents, burst });
      await worker.call('finish');
      return {
        [`p50Ms@${rate}`]: steady.seen.latencyMs.p50,
        [`p99Ms@${rate}`]: steady.seen.latencyMs.p99,
        [`lostDup@${rate}`]: steady.seen.lost + steady.seen.dup + steady.seen.ooo,
        eventsPerSec: fast.seen.deliveries / (fast.seen.spanMs / 1000),
        cpuPerEventUs: fast.cpu / fast.seen.deliveries,
        p99MsFast: fast.seen.latencyMs.p99,
        lostDupFast: fast.seen.lost + fast.seen.dup + fast.seen.ooo,
        coalescedFast: fast.coalesced,
        resetsFast: fast.seen.resets,
      };
    },
  );
}

async function resumePass(store) {
  const { streams, rate, beforeKillMs, events, retryMs } = cfg.resume;
  const runId = runIdOf('resume');
  const [portA, portB] = [await freePort(), await freePort()];
  const balancer = await startBalancer({ primary: portA, backup: portB });
  process.env.BENCH_RETRY_MS = String(retryMs);
  try {
    return await withProcesses(
      store,
      runId,
      [
        ['worker', INSTANCE, ['worker', store, runId]],
        ['a', INSTANCE, ['web', store, runId, String(portA)]],
        ['b', INSTANCE, ['web', store, runId, String(portB)]],
        ['load', RESUME_LOAD, []],
      ],
      async ({ worker, a, b, load }) => {
        const {
          paths: [path],
        } = await worker.call('start', { count: 1 });
        await load.call('open', { port: balancer.port, path, count: streams, retryMs, maxSeq: events }, 300_000);
        const onA = (await a.call('stats')).streams;
        if (onA !== streams) throw new Error(`${onA} of ${streams} streams reached instance A`);
        const emitting = worker.call('emit', { count: events, rate }, 600_000);
        await new Promise((resolve) => setTimeout(resolve, beforeKillMs));
        const before = await b.call('stats');
        const { seq } = await worker.call('seq');
        const at = Date.now();
        a.child.kill('SIGKILL');
        await load.call('killed', { at, seq });
        const back = await load.call('recovered', { timeoutMs: 120_000 }, 180_000);
        if (process.env.BENCH_VERBOSE) console.log(JSON.stringify(back));
        const after = await b.call('stats');
        await emitting;
        await worker.call('finish');
        const end = await load.call('completed', { total: events, timeoutMs: 60_000 }, 120_000);
        if (back.recovered !== streams || end.done !== streams) {
          throw new Error(`resume ${store}: ${back.recovered}/${streams} recovered, ${end.done} completed`);
        }
        return {
          recoveredMaxMs: back.maxMs,
          recoveredP50Ms: back.p50Ms,
          afterRetryMaxMs: back.maxMs - retryMs,
          peakReconnectsPerSec: back.peakReconnectsPerSec,
          cpuMsB: cpuDelta(before.cpu, after.cpu).total / 1000,
          rssMBB: after.mem.rss / MB,
          heapMBB: after.mem.heapUsed / MB,
          lost: end.lost,
          dup: end.dup,
          resets: end.resets,
          skipped: end.skipped,
          gapAcrossResume: end.gapAcrossResume,
          coalescedB: after.coalesced,
          disconnectedB: after.disconnected,
        };
      },
    );
  } finally {
    await balancer.stop();
  }
}

const manyTasksScenario = SCENARIOS.find((s) => s.name === 'manyTasks');

async function manyTasksPass(target) {
  const store = target === 'baseline' || target === 'memory' ? undefined : target;
  const runId = runIdOf('many');
  process.env.BENCH_STORE = store ?? '';
  process.env.BENCH_RUN_ID = runId;
  const server = target === 'baseline' ? 'baseline' : 'koa-sse-tasks';
  return withProcesses(
    store,
    runId,
    [
      ['server', HOST, [server]],
      ['client', CLIENT, []],
    ],
    ({ server: host, client }) =>
      manyTasksScenario.run({ server: host, client, cfg: { manyTasks: cfg.manyTasks }, target: server }),
  );
}

const SCENARIO_RUNS = {
  fanout: { targets: ['baseline', ...stores], pass: fanoutPass },
  resume: { targets: stores, pass: resumePass },
  manyTasks: { targets: ['baseline', 'memory', ...stores], pass: manyTasksPass },
};

const results = {};
const errors = [];
const machine = describeMachine();
const source = describeSource();
const started = performance.now();
console.log(`multi-instance benchmark (${source}), ${mode}: ${cfg.passes} passes, stores ${stores.join(', ')}`);
for (let pass = 1; pass <= cfg.passes; pass++) {
  for (const name of only) {
    for (const target of SCENARIO_RUNS[name].targets) {
      const label = `pass ${pass}/${cfg.passes}  ${name.padEnd(9)} ${target.padEnd(9)}`;
      try {
        const metrics = await SCENARIO_RUNS[name].pass(target);
        ((results[name] ??= {})[target] ??= []).push(metrics);
        console.log(
          `${label} ${Object.entries(metrics)
            .map(([k, v]) => `${k}=${formatNumber(v)}`)
            .join(' ')}`,
        );
      } catch (error) {
        errors.push(`${label.replace(/\s+/g, ' ')}: ${error.message}`);
        console.log(`${label} FAILED: ${error.message}`);
      }
    }
  }
}

const ROWS = {
  fanout: [
    [`p50Ms@${cfg.fanout.rate}`, `latency job.progress() → client at ${cfg.fanout.rate} events/s: p50 (ms)`],
    [`p99Ms@${cfg.fanout.rate}`, '… p99 (ms)'],
    [`lostDup@${cfg.fanout.rate}`, '… lost + duplicate + out of order'],
    ['eventsPerSec', 'as fast as it goes: delivered events/s'],
    ['cpuPerEventUs', '… CPU of the three processes per delivered event (µs)'],
    ['p99MsFast', '… p99 latency (ms)'],
    ['lostDupFast', '… lost + duplicate + out of order'],
    ['coalescedFast', '… streams whose client fell behind, their progress coalesced (allowed)'],
    ['resetsFast', '… `reset` events: a stream fell behind the history (1,000 events), then a fresh start'],
  ],
  resume: [
    ['recoveredMaxMs', 'kill → every client has every event (ms)'],
    ['afterRetryMaxMs', '… minus the retry delay (ms)'],
    ['recoveredP50Ms', 'kill → the median client has every event (ms)'],
    ['peakReconnectsPerSec', 'peak reconnections per second absorbed by B'],
    ['cpuMsB', "B's CPU from the kill until all recovered (ms)"],
    ['rssMBB', "B's RSS after (MB)"],
    ['heapMBB', "B's heap after (MB)"],
    ['lost', 'events a client never got (every stream, the whole task)'],
    ['gapAcrossResume', '… of them, events a resume did not replay (must be 0)'],
    ['skipped', '… of them, progress coalesced while a client fell behind (allowed)'],
    ['dup', 'duplicate events'],
    ['resets', '`reset` events (a Last-Event-ID the server could not replay from)'],
  ],
  manyTasks: [
    ['totalMs', `deliver ${cfg.manyTasks.events} events × ${cfg.manyTasks.tasks} tasks × 2 streams (ms)`],
    ['cpuMs', '… server CPU (ms)'],
    ['heapMB', '… heap for the tasks and their streams (MB)'],
    ['setupMs', 'set-up: create the tasks and open the streams (ms)'],
    ['lost', 'lost + duplicate + out of order'],
  ],
};
const TITLES = {
  fanout: `Cross-instance fan-out: 1 worker process, 2 web instances × ${cfg.fanout.subscribersPerInstance} streams`,
  resume: `Mass resume: ${cfg.resume.streams} streams on A behind nginx, A killed, all resume on B (retry ${cfg.resume.retryMs} ms, the job at ${cfg.resume.rate} events/s)`,
  manyTasks: `Many tasks on each store: ${cfg.manyTasks.tasks} tasks × ${cfg.manyTasks.subscribersPerTask} streams, one process`,
};

function table(name) {
  const byTarget = results[name];
  if (byTarget === undefined) return '';
  const targets = SCENARIO_RUNS[name].targets.filter((t) => byTarget[t] !== undefined);
  const cell = (target, key) => {
    const s = summarize(byTarget[target].map((m) => m[key]));
    if (s.n === 0) return '–';
    return s.min === s.max
      ? formatNumber(s.median)
      : `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
  };
  const lines = [`| | ${targets.join(' | ')} |`, `|:--|${targets.map(() => '--:').join('|')}|`];
  for (const [key, label] of ROWS[name]) lines.push(`| ${label} | ${targets.map((t) => cell(t, key)).join(' | ')} |`);
  return lines.join('\n');
}

const sections = only
  .filter((name) => results[name] !== undefined)
  .map((name) => `### ${TITLES[name]}\n\n${table(name)}\n`);
const minutes = ((performance.now() - started) / 60_000).toFixed(1);
console.log(`\n${sections.join('\n')}\n${mode} run: ${minutes} min`);
for (const error of errors) console.log(`ERROR ${error}`);
const out = options.out ?? (mode === 'full' && options.only === undefined ? BENCHMARKS_MD : undefined);
if (out !== undefined && !options['no-write']) {
  const body = [
    START_MARK,
    `## Across instances (${mode} run, ${machine.date.slice(0, 10)})`,
    '',
    `\`node bench/multi/run.mjs${mode === 'quick' ? ' --quick' : ''}\` (${cfg.passes} passes, ${minutes} min), built from ${source}; ` +
      `${machine.cores} cores, ${machine.cpu}, Node ${machine.node}. Each figure is the median of the passes with ` +
      'the range (min–max). Redis is the local one; PostgreSQL the local one, each run in a schema of its own.',
    '',
    ...sections,
    ...(errors.length > 0 ? ['### Errors', '', ...errors.map((e) => `- ${e}`), ''] : []),
    END_MARK,
  ].join('\n');
  const file = out instanceof URL ? out : new URL(out, `file://${process.cwd()}/`);
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // a new file
  }
  const at = text.indexOf(START_MARK);
  const end = text.indexOf(END_MARK);
  text = at !== -1 && end !== -1 ? text.slice(0, at) + body + text.slice(end + END_MARK.length) : `${text}\n${body}\n`;
  await writeFile(file, text);
  console.log(`wrote ${file.pathname}`);
}
await cluster?.stop();
if (errors.length > 0) process.exitCode = 1;
