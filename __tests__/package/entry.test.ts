import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// These run against the built package (npm test builds first), resolved by name through package.json `exports`.
const root = path.resolve(__dirname, '../..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

/**
 * Compiles `source` strictly, as a consumer of the package would, from a file named `name` (`.mts`: ES module, `.cts`:
 * CommonJS, under node16 resolution); throws on a type error.
 */
function compileConsumer(name: string, source: string, extra: string[] = []): void {
  const target = path.join(root, '__tests__/package', `.${name}`);
  writeFileSync(target, source);
  try {
    node([
      require.resolve('typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      ...extra,
      '--types',
      'node',
      target,
    ]);
  } finally {
    rmSync(target, { force: true });
  }
}

describe('the published entry', () => {
  it('works with require()', () => {
    const out = node(['-e', "const m = require('koa-sse-tasks'); console.log(typeof m.sseTasks, typeof m.TaskRunner)"]);
    expect(out).toBe('function function');
  });

  it('works with import, sharing one TaskRunner class with require()', () => {
    const script = [
      "import { sseTasks, TaskRunner } from 'koa-sse-tasks';",
      "import { createRequire } from 'node:module';",
      'const cjs = createRequire(import.meta.url)("koa-sse-tasks");',
      'console.log(typeof sseTasks, TaskRunner === cjs.TaskRunner);',
    ].join('\n');
    expect(node(['--input-type=module', '-e', script])).toBe('function true');
  });

  it('ships types that a strict TypeScript consumer compiles against, in both module systems', () => {
    const consumer = [
      "import Koa from 'koa';",
      "import { sseTasks, TaskRunner, type TaskSnapshot, type Job } from 'koa-sse-tasks';",
      'const runner = new TaskRunner({ concurrency: 2 });',
      "runner.define('report', async (job: Job<{ month: string }>) => { job.progress(40, 'Rendering'); return { url: job.input.month }; });",
      'const app = new Koa();',
      "app.use(sseTasks({ runner, owner: (ctx) => ctx.get('x-user') || undefined }));",
      "runner.on('event', (taskId: string, event) => console.log(taskId, event.event, event.id, event.data));",
      "const pending: Promise<TaskSnapshot | undefined> = runner.get('x');",
      'void pending;',
      // A mistake the types must catch:
      '// @ts-expect-error percent is a number',
      "runner.define('bad', (job) => job.progress('40'));",
    ].join('\n');
    for (const file of ['consumer.mts', 'consumer.cts']) compileConsumer(file, consumer);
  });

  it("infers job.input from a Standard Schema validator's output, with nothing more to install for it", () => {
    const consumer = [
      "import { z } from 'zod';",
      "import { TaskRunner, InvalidInputError } from 'koa-sse-tasks';",
      'const runner = new TaskRunner();',
      "const input = z.object({ month: z.string(), kind: z.enum(['daily', 'weekly']).default('daily') });",
      "runner.define('report', (job) => `${job.input.month.toUpperCase()} ${job.input.kind}`, { input });",
      "runner.start('report', {}).catch((error: unknown) => error instanceof InvalidInputError && error.issues[0]?.path);",
      '// @ts-expect-error the schema outputs a string',
      "runner.define('bad', (job) => job.input.month.toFixed(), { input });",
    ].join('\n');
    for (const file of ['schema-consumer.mts', 'schema-consumer.cts']) compileConsumer(file, consumer);
    // The spec's interface is ours (src/standard-schema.ts): no built type imports @standard-schema/spec.
    const dist = path.join(root, 'dist');
    const naming = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter(
      (file) => /\.d\.m?ts$/.test(file) && /["']@standard-schema\//.test(readFileSync(path.join(dist, file), 'utf8')),
    );
    expect(naming).toEqual([]);
  });

  it('ships koa-sse-tasks/postgres, the only entry that loads pg, in both module systems', () => {
    const loaded = 'Object.keys(require.cache).some((file) => /[\\\\/]node_modules[\\\\/]pg[\\\\/]/.test(file))';
    const script = [
      "require('koa-sse-tasks');",
      `const before = ${loaded};`,
      "const { PostgresStore, migrationSql } = require('koa-sse-tasks/postgres');",
      `console.log(before, ${loaded}, typeof PostgresStore, migrationSql('app')[0]);`,
    ].join('\n');
    expect(node(['-e', script])).toBe('false true function CREATE SCHEMA IF NOT EXISTS "app"');
    const esm = [
      "import { PostgresStore } from 'koa-sse-tasks/postgres';",
      "import { createRequire } from 'node:module';",
      'console.log(PostgresStore === createRequire(import.meta.url)("koa-sse-tasks/postgres").PostgresStore);',
    ].join('\n');
    expect(node(['--input-type=module', '-e', esm])).toBe('true');
    const consumer = [
      "import pg from 'pg';",
      "import { TaskRunner } from 'koa-sse-tasks';",
      "import { PostgresStore } from 'koa-sse-tasks/postgres';",
      'const pool = new pg.Pool();',
      "const store = new PostgresStore({ pool, schema: 'tasks' });",
      'const runner = new TaskRunner({ store, worker: false });',
      'async function order(): Promise<string> {',
      '  await store.migrate();',
      '  const client = await pool.connect();',
      "  await client.query('BEGIN');",
      "  const task = await runner.start('report', { order: 1 }, { transaction: client });",
      "  await client.query('COMMIT');",
      '  client.release();',
      '  return task.id;',
      '}',
      'void order;',
      '// @ts-expect-error a schema is a string',
      'new PostgresStore({ pool, schema: 1 });',
    ].join('\n');
    for (const file of ['postgres-consumer.mts', 'postgres-consumer.cts']) compileConsumer(file, consumer);
  });

  it('ships the browser client as ES modules with types (koa-sse-tasks/client)', () => {
    const script = [
      "import * as client from 'koa-sse-tasks/client';",
      'console.log(Object.keys(client).sort().join(","));',
    ].join('\n');
    expect(node(['--input-type=module', '-e', script])).toBe('WatchError,watchTask,watchTasks');
    const consumer = [
      "import { watchTask, watchTasks, type TaskSnapshot } from 'koa-sse-tasks/client';",
      "const stop: () => void = watchTask<{ url: string }>('/tasks/1/events', {",
      '  onProgress: ({ percent, message }) => console.log(percent.toFixed(0), message),',
      '  onComplete: (snapshot: TaskSnapshot<{ url: string }>) => console.log(snapshot.result?.url),',
      '  onError: (error) => console.log(error.code, error.status),',
      '});',
      "watchTasks('/tasks/events', { onStatus: (s) => console.log(s.taskId, s.status) });",
      'stop();',
      '// @ts-expect-error progress payloads have no `result`',
      "watchTask('/tasks/1/events', { onProgress: (p) => p.result });",
    ].join('\n');
    compileConsumer('client-consumer.mts', consumer, ['--lib', 'ES2022,DOM']);
  });

  it('ships koa-sse-tasks/metrics for require() and import, one module with the root entry', () => {
    const script = [
      "import { tasksMetrics, METRICS_DEFAULTS } from 'koa-sse-tasks/metrics';",
      "import { createRequire } from 'node:module';",
      'const cjs = createRequire(import.meta.url)("koa-sse-tasks/metrics");',
      'console.log(typeof tasksMetrics, tasksMetrics === cjs.tasksMetrics, METRICS_DEFAULTS.path);',
    ].join('\n');
    expect(node(['--input-type=module', '-e', script])).toBe('function true /metrics');
    const consumer = [
      "import Koa from 'koa';",
      "import { Registry } from 'prom-client';",
      "import { sseTasks, TaskRunner, type Logger } from 'koa-sse-tasks';",
      "import { tasksMetrics, type TasksMetrics } from 'koa-sse-tasks/metrics';",
      'const logger: Logger = console;',
      'const runner = new TaskRunner({ logger });',
      'const tasks = sseTasks({ runner });',
      'const metrics: TasksMetrics = tasksMetrics({ runner, tasks, registry: new Registry(), path: "/metrics" });',
      'new Koa().use(metrics.middleware).use(tasks);',
      'void metrics.registry.metrics();',
      '// @ts-expect-error the runner is required',
      'tasksMetrics({ tasks });',
    ].join('\n');
    for (const file of ['metrics-consumer.mts', 'metrics-consumer.cts']) compileConsumer(file, consumer);
  });

  it('loads no optional backend from the root entry: prom-client, ioredis, bullmq and pg stay unloaded', () => {
    const script = [
      "require('koa-sse-tasks');",
      'const loaded = Object.keys(require.cache).filter((file) => /node_modules[\\\\/](prom-client|ioredis|bullmq|pg)[\\\\/]/.test(file));',
      'console.log(JSON.stringify(loaded));',
    ].join('\n');
    expect(node(['-e', script])).toBe('[]');
    const metrics =
      "require('koa-sse-tasks/metrics'); console.log(Object.keys(require.cache).some((f) => f.includes('prom-client')))";
    expect(node(['-e', metrics])).toBe('true'); // the check above can see a load
  });
});
