// The demo app: the page, the task API at /tasks with the `report` and `summary` task types, and the finished CSV
// files at /reports/.
// server.mjs serves it alone with the memory store; redis.mjs serves it from several web instances whose runner
// shares a RedisStore with a worker process.
import { randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { sseTasks, TaskRunner } from 'koa-sse-tasks';
import { REPORT_FILE, reportInput, reportJob } from './report.mjs';
import { reactBundle } from './react/bundle.mjs';
import { summaryInput, summaryJob } from './summary.mjs';

export const DEMO_DEFAULTS = {
  reportsDir: fileURLToPath(new URL('./reports/', import.meta.url)),
  stepDelayMs: 700,
  /** The pause between two words of a summary. */
  wordDelayMs: 60,
};

/** Exactly the files the page is made of; any other path is not ours to serve. */
const PUBLIC_FILES = new Map([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/app.js', { file: 'app.js', type: 'text/javascript; charset=utf-8' }],
  ['/style.css', { file: 'style.css', type: 'text/css; charset=utf-8' }],
  ['/react', { file: 'react.html', type: 'text/html; charset=utf-8' }],
]);
const PUBLIC_DIR = new URL('./public/', import.meta.url);
/** The browser client, as the package ships it (koa-sse-tasks/client): plain ES modules the page imports. */
const CLIENT_DIR = new URL('./', import.meta.resolve('koa-sse-tasks/client'));
/** The browser client's modules (dist/client/*.js), as the page imports them. */
const CLIENT_FILE = /^\/client\/[a-z-]+\.js$/;
/** The cookie naming this browser's anonymous owner, whose reports the "My reports" list follows. */
const OWNER_COOKIE = 'demo-owner';

/** A client that hangs up while a file download is sent: normal, not worth a stack trace. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * The runner of `report` and `summary` tasks. With `worker: true` (the default) it runs the jobs, writing the CSV
 * files to `reportsDir`; with `worker: false` it only declares the types: it starts tasks, and a worker sharing
 * `store` runs them. Either way each type has its input schema, so a bad input is refused (400) by whichever process
 * receives it.
 */
export function createReportRunner({
  store,
  worker = true,
  leaseMs,
  reportsDir = DEMO_DEFAULTS.reportsDir,
  stepDelayMs = DEMO_DEFAULTS.stepDelayMs,
  wordDelayMs = DEMO_DEFAULTS.wordDelayMs,
} = {}) {
  for (const [name, value] of Object.entries({ stepDelayMs, wordDelayMs })) {
    if (worker && (!Number.isInteger(value) || value < 0)) {
      throw new TypeError(`demo: expected \`${name}\` to be an integer >= 0, got ${String(value)}`);
    }
  }
  const runner = new TaskRunner({ store, worker, leaseMs });
  if (worker) {
    mkdirSync(reportsDir, { recursive: true });
    runner.define('report', reportJob({ reportsDir, stepDelayMs }), { input: reportInput });
    runner.define('summary', summaryJob({ wordDelayMs }), { input: summaryInput });
  } else {
    runner.define('report', { input: reportInput });
    runner.define('summary', { input: summaryInput });
  }
  runner.on('error', (error) => console.error('demo: a task store write failed:', error));
  return runner;
}

/**
 * Builds the demo: returns the Koa app, its runner and the task middleware (close both when you stop the server).
 * Without `runner`, a runner of its own runs the reports in this process, with the memory store.
 */
export function createDemoApp({
  reportsDir = DEMO_DEFAULTS.reportsDir,
  stepDelayMs = DEMO_DEFAULTS.stepDelayMs,
  wordDelayMs = DEMO_DEFAULTS.wordDelayMs,
  runner = createReportRunner({ reportsDir, stepDelayMs, wordDelayMs }),
} = {}) {
  mkdirSync(reportsDir, { recursive: true });
  const app = new Koa();
  app.on('error', logError);
  app.use(securityHeaders);
  app.use(anonymousOwner);
  // Each browser owns the reports it starts (one feed lists them); a report's id is enough to follow or cancel it.
  const tasks = sseTasks({ runner, owner: (ctx) => ctx.state.owner, authorize: () => true });
  app.use(tasks);
  app.use(servePublic);
  app.use(reportFiles(reportsDir));
  return { app, runner, tasks };
}

function logError(error) {
  if (CLIENT_GONE.has(error?.code) || error?.status === 404 || error?.expose) return;
  console.error('demo: request failed:', error);
}

async function securityHeaders(ctx, next) {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  await next();
}

/** Gives each browser a random owner id in a cookie, so "My reports" shows its own reports. */
async function anonymousOwner(ctx, next) {
  let owner = ctx.cookies.get(OWNER_COOKIE);
  if (owner === undefined || !/^[0-9a-f-]{36}$/.test(owner)) {
    owner = randomUUID();
    ctx.cookies.set(OWNER_COOKIE, owner, { httpOnly: true, sameSite: 'lax', overwrite: true });
  }
  ctx.state.owner = owner;
  await next();
}

async function servePublic(ctx, next) {
  if (CLIENT_FILE.test(ctx.path) && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
    const file = await readFile(new URL(ctx.path.slice('/client/'.length), CLIENT_DIR)).catch((error) => {
      if (error.code === 'ENOENT') return undefined; // not a module of the client: a 404
      throw error;
    });
    if (file === undefined) return next();
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = file;
    return;
  }
  if (ctx.path === '/react/app.js' && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await reactBundle();
    return;
  }
  const entry = PUBLIC_FILES.get(ctx.path);
  if (entry === undefined || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
  ctx.type = entry.type;
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  ctx.body = await readFile(new URL(entry.file, PUBLIC_DIR));
}

/** `GET /reports/<task id>.csv`, as an attachment; names that are not exactly a report file are 404. */
function reportFiles(reportsDir) {
  return async function reportFiles(ctx, next) {
    const match = /^\/reports\/([^/]+)$/.exec(ctx.path);
    if (match === null || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const name = match[1];
    if (!REPORT_FILE.test(name)) return next();
    const file = path.join(reportsDir, name);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) return next();
    ctx.type = 'text/csv; charset=utf-8';
    ctx.length = info.size;
    ctx.set('Content-Disposition', `attachment; filename="${name}"`);
    ctx.set('Cache-Control', 'private, no-cache');
    ctx.body = createReadStream(file);
  };
}
