// `npm run demo:redis`: the report demo as processes sharing their tasks through Redis. Two web instances serve the
// page and the task API (they start tasks and stream their events, and run no job) and a worker runs the report
// jobs, writing the CSV files to the reports folder the web instances serve. Start a report on one instance and
// follow it on the other; kill the worker mid-job and the task fails within its lease (5 s). See README.md here.
//
// Environment: REDIS_URL (default redis://127.0.0.1:6379), PORTS or WEB_PORTS (one web instance per port, default
// 3001,3002; 0 picks a free port), HOST (default 127.0.0.1), KEY_PREFIX (default sse-tasks-demo:), DEMO_STEP_MS
// (default 700), REPORTS_DIR (default demo/reports/). `node demo/redis.mjs worker` starts one more worker alone.
import { fork } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisStore } from 'koa-sse-tasks/redis';
import { createDemoApp, createReportRunner, DEMO_DEFAULTS } from './app.mjs';
import { exit, integerEnv, listen, onStop, stopWeb } from './serve.mjs';

/** How long the worker's claim on a job holds without renewal: a killed worker's task fails after this long. */
const LEASE_MS = 5_000;
/** How long the children get to stop before they are killed. */
const STOP_GRACE_MS = 10_000;

const config = {
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  keyPrefix: process.env.KEY_PREFIX || 'sse-tasks-demo:',
  host: process.env.HOST || '127.0.0.1',
  ports: portsEnv(),
  stepDelayMs: integerEnv('DEMO_STEP_MS', DEMO_DEFAULTS.stepDelayMs),
  wordDelayMs: integerEnv('DEMO_WORD_MS', DEMO_DEFAULTS.wordDelayMs),
  reportsDir: path.resolve(process.env.REPORTS_DIR || DEMO_DEFAULTS.reportsDir),
};
if (!/^rediss?:\/\//.test(config.redisUrl)) exit(`expected REDIS_URL to start with redis:// or rediss://`);

const [role, name, port] = process.argv.slice(2);
if (role === undefined) await main();
else if (role === 'web') await web(name ?? 'A', Number(port ?? config.ports[0]));
else if (role === 'worker') worker();
else exit(`unknown role ${JSON.stringify(role)}: expected worker (or nothing, for the whole demo)`);

/** A web instance: the demo app, its runner starting `report` tasks that the worker runs. */
async function web(name, port) {
  const runner = createReportRunner({ store: redisStore(`web-${name}`), worker: false });
  const demo = createDemoApp({ reportsDir: config.reportsDir, runner });
  const listening = listen(demo.app, port, config.host);
  stopWhenAsked(async () => stopWeb({ server: (await listening).server, ...demo }));
  ready(`listening on ${(await listening).url} (web instance ${name}, pid ${process.pid})`);
}

/** The worker: claims queued `report` tasks and runs them; no HTTP. */
function worker() {
  const { reportsDir, stepDelayMs, wordDelayMs } = config;
  const store = redisStore(`worker-${process.pid}`);
  const runner = createReportRunner({ store, worker: true, leaseMs: LEASE_MS, reportsDir, stepDelayMs, wordDelayMs });
  stopWhenAsked(() => runner.close()); // a job running now ends `failed`; queued ones wait for another worker
  ready(`worker (pid ${process.pid}) runs the report jobs, under a lease of ${LEASE_MS / 1000} s`);
}

function redisStore(name) {
  return new RedisStore({ url: config.redisUrl, keyPrefix: config.keyPrefix, connectionName: `demo-${name}` });
}

/** Tells the parent this child is ready (or prints it, when started alone). */
function ready(line) {
  if (process.send === undefined) console.log(line);
  else process.send({ ready: line });
}

/** Stops on SIGINT/SIGTERM, on the parent's `stop`, and when the parent is gone; then lets the process end. */
function stopWhenAsked(stop) {
  const trigger = onStop(async () => {
    await stop();
    if (process.connected) process.disconnect();
  });
  process.on('message', (message) => {
    if (message === 'stop') void trigger();
  });
  process.on('disconnect', () => void trigger());
}

/** The parent: starts the web instances and the worker, prints where they listen, and stops them all together. */
async function main() {
  await checkRedis();
  const self = fileURLToPath(import.meta.url);
  const children = [
    ...config.ports.map((port, i) => startChild(`web instance ${nameOf(i)}`, ['web', nameOf(i), String(port)])),
    startChild('worker', ['worker']),
  ];
  let stopping = false;
  let failed = false;

  for (const child of children) {
    void child.exited.then(({ code, signal }) => {
      const how = signal === null ? `exited with ${code}` : `was killed (${signal})`;
      if (child.started === undefined) {
        // reported by the start-up below
      } else if (stopping) {
        if (code !== 0) console.error(`demo: ${child.label} (pid ${child.process.pid}) ${how} while stopping`);
        failed ||= code !== 0;
      } else if (child.label === 'worker') {
        console.log(
          `worker (pid ${child.process.pid}) ${how}: a report it was running fails once its lease expires ` +
            `(${LEASE_MS / 1000} s); new reports stay queued until a worker runs (node demo/redis.mjs worker)`,
        );
      } else {
        console.log(`${child.label} (pid ${child.process.pid}) ${how}`);
      }
      if (children.every((c) => c.process.exitCode !== null || c.process.signalCode !== null)) {
        if (stopping) console.log('demo stopped');
        process.exit(failed || !stopping ? 1 : 0);
      }
    });
  }

  /** First call: each child stops cleanly. Second call (a second Ctrl-C): they are killed at once. */
  const stopAll = () => {
    const force = stopping;
    stopping = true;
    for (const { process: child } of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      if (force) child.kill('SIGKILL');
      else if (child.connected) child.send('stop', () => {}); // a child that disconnected is stopping already
    }
    if (force) return;
    setTimeout(() => {
      failed = true;
      for (const { process: child } of children) child.kill('SIGKILL');
    }, STOP_GRACE_MS).unref();
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);

  try {
    const lines = await Promise.all(children.map((child) => child.ready));
    for (const line of lines) console.log(line);
    const redis = config.redisUrl.replace(/\/\/[^/@]*@/, '//'); // no password on screen
    console.log(`tasks are shared through ${redis} under ${config.keyPrefix}*; CSV files in ${config.reportsDir}`);
  } catch (error) {
    if (stopping) return;
    console.error(`demo: ${error.message}; stopping the others`);
    stopAll();
    failed = true;
  }

  function startChild(label, args) {
    const child = fork(self, args);
    child.on('error', (error) => console.error(`demo: ${label} (pid ${child.pid}):`, error));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const entry = { label, process: child, exited, started: undefined };
    entry.ready = new Promise((resolve, reject) => {
      child.on('message', (message) => {
        if (typeof message?.ready === 'string') resolve((entry.started = message.ready));
      });
      void exited.then(({ code, signal }) =>
        reject(new Error(`${label} stopped (${signal ?? code}) before it was ready`)),
      );
    });
    entry.ready.catch(() => {}); // reported once, by Promise.all above
    return entry;
  }
}

/** Fails early, with a hint, when nothing answers at REDIS_URL (the stores would only retry and log). */
function checkRedis() {
  const { hostname, port } = new URL(config.redisUrl);
  const host = hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port || 6379) });
    socket.setTimeout(2000, () => socket.destroy(new Error('no answer within 2 s')));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => {
      exit(
        `cannot reach Redis at ${host}:${port || 6379} (${error.code ?? error.message}): start redis-server, or set REDIS_URL`,
      );
    });
  });
}

function portsEnv() {
  const name = process.env.PORTS ? 'PORTS' : 'WEB_PORTS';
  const raw = process.env[name] || '3001,3002';
  const ports = raw.split(',').map((part) => part.trim());
  if (ports.some((part) => !/^\d{1,5}$/.test(part) || Number(part) > 65535)) {
    exit(`expected ${name} to be ports separated by commas (0 picks a free one), got ${JSON.stringify(raw)}`);
  }
  return ports.map(Number);
}

function nameOf(index) {
  return index < 26 ? String.fromCharCode(65 + index) : String(index + 1);
}
