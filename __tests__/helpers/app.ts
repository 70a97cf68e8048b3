import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { sseTasks, TaskRunner, type SseTasksMiddleware, type SseTasksOptions, type TaskRunnerOptions } from '../../src';

export interface TestApp {
  base: string;
  runner: TaskRunner;
  app: Koa;
  /** The sseTasks() middleware mounted (its `close()`, `openStreams`). */
  tasks: SseTasksMiddleware;
  server: http.Server;
  /** Koa errors logged during the test (client aborts must not appear here). */
  errors: unknown[];
  close(): Promise<void>;
}

export interface StartAppOptions {
  runner?: TaskRunnerOptions;
  middleware?: Omit<SseTasksOptions, 'runner'>;
  /** Middleware mounted before sseTasks (body parsers, compression...). */
  before?: Koa.Middleware[];
  /** Middleware mounted after sseTasks (the rest of the app). */
  after?: Koa.Middleware[];
  define?: (runner: TaskRunner) => void;
  /** Options of the node:http server (e.g. a larger `maxHeaderSize`). */
  server?: http.ServerOptions;
}

/** A real Koa server on 127.0.0.1 with a fresh runner. */
export async function startApp(options: StartAppOptions = {}): Promise<TestApp> {
  const runner = new TaskRunner(options.runner);
  options.define?.(runner);
  const app = new Koa();
  const errors: unknown[] = [];
  app.silent = true;
  app.on('error', (error: unknown) => errors.push(error));
  for (const middleware of options.before ?? []) app.use(middleware);
  const tasks = sseTasks({ runner, ...options.middleware });
  app.use(tasks);
  for (const middleware of options.after ?? []) app.use(middleware);
  const server = http.createServer(options.server ?? {}, app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    runner,
    app,
    tasks,
    server,
    errors,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runner.close();
    },
  };
}

/** A promise with its resolve exposed: lets a test hold a job at a step. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function postJson(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** Starts a task over HTTP and returns its id. */
export async function startTask(base: string, type: string, input?: unknown): Promise<string> {
  const response = await postJson(base, '/tasks', { type, input });
  if (response.status !== 202) throw new Error(`POST /tasks answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/** Waits until `check` (which may be async) is true, polling every 5 ms; rejects after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
