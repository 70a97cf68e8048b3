// One process of the multi-instance benchmark: `node bench/multi/instance.mjs <role> <store> <runId> [port]`,
// driven over IPC (../lib/ipc.mjs). Roles:
//   worker          a TaskRunner that runs the `bench` jobs: each waits for the harness, which makes every job
//                   report progress `seq:hrtime` (`emit`), then lets them return (`finish`)
//   web             a TaskRunner with `worker: false` and sseTasks on 127.0.0.1:<port>: it only streams
//   baseline-worker the hand-written way across processes: Redis PUBLISH of each pre-encoded frame
//   baseline-web    node:http on <port>: SUBSCRIBE, and every message written to every response of /channels/0
import { createServer } from 'node:http';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import Koa from 'koa';
import Redis from 'ioredis';
import { sseTasks, TaskRunner } from 'koa-sse-tasks';
import { serve } from '../lib/ipc.mjs';
import { createStore, NAMESPACE, REDIS_URL } from './stores.mjs';

const [role, storeKind, runId, portArg] = process.argv.slice(2);
const port = Number(portArg ?? 0);
const RETRY_MS = Number(process.env.BENCH_RETRY_MS ?? 1000);
const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
};

const stats = async () => ({ cpu: process.cpuUsage(), mem: process.memoryUsage(), at: Date.now() });

/** Publishes `count` rounds on every channel: at `rate` rounds/s on a drift-free schedule, or `burst` per turn. */
async function emitRounds(publish, { count, rate = 0, burst = 1 }, progress) {
  const start = performance.now();
  for (let seq = 1; seq <= count; seq++) {
    if (rate > 0) {
      const wait = start + (seq - 1) * (1000 / rate) - performance.now();
      if (wait > 0) await sleep(wait);
    }
    publish(seq);
    progress.seq = seq;
    if (rate === 0 && seq % burst === 0) await turn();
  }
  await turn();
  return { ms: performance.now() - start, lastSeq: count };
}

async function worker() {
  const store = await createStore(storeKind, runId);
  const runner = new TaskRunner({ store, concurrency: 2000, maxQueued: 100_000 });
  const jobs = new Map();
  const waiting = new Map();
  runner.define(
    'bench',
    (job) =>
      new Promise((done) => {
        jobs.set(job.id, { job, done });
        waiting.get(job.id)?.();
      }),
  );
  let tasks = [];
  const progress = { seq: 0 };
  return {
    async start({ count = 1 }) {
      const ids = [];
      for (let n = 0; n < count; n++) ids.push((await runner.start('bench')).id);
      await Promise.all(ids.map((id) => jobs.has(id) || new Promise((r) => waiting.set(id, r))));
      tasks = ids.map((id) => jobs.get(id));
      progress.seq = 0;
      return { paths: ids.map((id) => `/tasks/${id}/events`) };
    },
    emit(args) {
      const publish = (seq) => {
        const message = `${seq}:${process.hrtime.bigint()}`;
        for (const { job } of tasks) job.progress(seq % 101, message);
      };
      return emitRounds(publish, args, progress);
    },
    async seq() {
      return { seq: progress.seq };
    },
    async finish() {
      const ids = tasks.map(({ job }) => job.id);
      for (const { done } of tasks) done();
      tasks = [];
      for (let tries = 0; tries < 500; tries++) {
        const snapshots = await Promise.all(ids.map((id) => runner.get(id)));
        if (snapshots.every((s) => s?.status === 'completed')) break;
        await sleep(20);
      }
      return {};
    },
    stats,
    async close() {
      await runner.close();
      return {};
    },
  };
}

async function web() {
  const store = await createStore(storeKind, runId);
  const runner = new TaskRunner({ store, worker: false });
  runner.define('bench');
  const app = new Koa();
  const tasks = sseTasks({ runner, retryMs: RETRY_MS, maxConnections: 20_000, maxConnectionsPerTask: 20_000 });
  app.use(tasks);
  const server = createServer(app.callback());
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port, backlog: 8192 }, resolve));
  return {
    async stats() {
      const { coalesced, disconnected, resumes } = tasks.stats;
      return { ...(await stats()), streams: tasks.openStreams, coalesced, disconnected, resumes: { ...resumes } };
    },
    info: { port: server.address().port },
  };
}

const channel = `${NAMESPACE}:${runId}:channel`;

async function baselineWorker() {
  const redis = new Redis(REDIS_URL);
  const progress = { seq: 0 };
  return {
    async start() {
      progress.seq = 0;
      return { paths: ['/channels/0'] };
    },
    emit(args) {
      const publish = (seq) => {
        const data = `{"percent":${seq % 101},"message":"${seq}:${process.hrtime.bigint()}"}`;
        void redis.publish(channel, `event: progress\nid: ${seq}\ndata: ${data}\n\n`);
      };
      return emitRounds(publish, args, progress);
    },
    async seq() {
      return { seq: progress.seq };
    },
    async finish() {
      await redis.publish(channel, 'event: complete\ndata: {}\n\n');
      return {};
    },
    stats,
  };
}

async function baselineWeb() {
  const subscriber = new Redis(REDIS_URL);
  const open = new Set();
  subscriber.on('messageBuffer', (_channel, frame) => {
    for (const res of open) res.write(frame);
  });
  await subscriber.subscribe(channel);
  const server = createServer((req, res) => {
    if (req.url !== '/channels/0') return void res.writeHead(404).end();
    res.writeHead(200, HEADERS);
    res.write(`retry: ${RETRY_MS}\n\n`);
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port, backlog: 8192 }, resolve));
  return {
    async stats() {
      return { ...(await stats()), streams: open.size };
    },
    info: { port: server.address().port },
  };
}

const roles = { worker, web, 'baseline-worker': baselineWorker, 'baseline-web': baselineWeb };
if (roles[role] === undefined) throw new Error(`unknown role ${role}: ${Object.keys(roles).join(', ')}`);
const { info = {}, ...ops } = await roles[role]();
serve(ops, { pid: process.pid, ...info });
