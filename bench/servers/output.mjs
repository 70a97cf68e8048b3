// The `output` scenario's server (servers/host.mjs loads it as the target `output`): a plain node:http baseline
// and koa-sse-tasks side by side in one process, on two ports, measured one at a time (the harness reads this
// process's CPU around each phase). The baseline is what a hand-written endpoint does with streamed text: one
// pre-serialized frame per token, written to every response; a late joiner gets the text so far as one frame
// serialized once. koa-sse-tasks: one task of type `write`, whose job writes what the harness asks for.
import { createServer } from 'node:http';
import { setImmediate as turn } from 'node:timers/promises';
import Koa from 'koa';
import { sseTasks, TaskRunner } from 'koa-sse-tasks';

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};

function baselineApp() {
  /** @type {Set<import('node:http').ServerResponse>} */
  let open = new Set();
  let text = '';
  let joinFrame;
  const server = createServer((req, res) => {
    if (req.url !== '/stream') return void res.writeHead(404).end();
    res.writeHead(200, HEADERS);
    res.write('retry: 3000\n\n');
    if (text !== '') res.write((joinFrame ??= frame(0, text)));
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  const frame = (offset, chunk) => `event: output\ndata: ${JSON.stringify({ offset, text: chunk })}\n\n`;
  return {
    server,
    path: '/stream',
    reset(initial = '') {
      text = initial;
      joinFrame = undefined;
    },
    write(chunk) {
      const bytes = Buffer.from(frame(text.length, chunk));
      text += chunk;
      joinFrame = undefined;
      for (const res of open) res.write(bytes);
    },
    end() {
      const last = Buffer.from(`event: complete\ndata: {"outputLength":${text.length}}\n\n`);
      for (const res of open) res.end(last);
      open = new Set();
    },
  };
}

function koaApp() {
  const runner = new TaskRunner();
  /** The running job, and the way to let it return. */
  let current;
  let started;
  runner.define(
    'write',
    (job) =>
      new Promise((done) => {
        current = { job, done };
        started?.();
      }),
  );
  const app = new Koa();
  app.use(sseTasks({ runner, maxConnectionsPerTask: 10_000 }));
  return {
    server: createServer(app.callback()),
    path: '',
    async reset(initial = '') {
      const running = new Promise((resolve) => (started = resolve));
      const { id } = await runner.start('write');
      await running;
      this.path = `/tasks/${id}/events`;
      // The joiners' text, written in 1 KiB pieces over as many turns (as a job would), before anyone connects.
      for (let at = 0; at < initial.length; at += 1024) {
        current.job.write(initial.slice(at, at + 1024));
        await turn();
      }
      await turn();
    },
    write(chunk) {
      current.job.write(chunk);
    },
    end() {
      current.done({ ok: true });
    },
  };
}

export async function createTarget() {
  const apps = { baseline: baselineApp(), 'koa-sse-tasks': koaApp() };
  const other = apps.baseline.server;
  await new Promise((resolve) => other.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
  return {
    // host.mjs listens on this one (koa-sse-tasks); the baseline already listens on its own port.
    server: apps['koa-sse-tasks'].server,
    async prepare() {
      return { paths: [] };
    },
    publish() {},
    async finish() {},
    async counts() {
      return {};
    },
    ops: {
      /** Where each app listens. */
      async ports() {
        return { baseline: other.address().port, 'koa-sse-tasks': apps['koa-sse-tasks'].server.address().port };
      },
      /** A fresh stream to write to (koa-sse-tasks: a new running task), holding `initialBytes` of text already. */
      async reset({ app, initialBytes = 0 }) {
        await apps[app].reset(
          'lorem ipsum dolor sit amet '.repeat(Math.ceil(initialBytes / 27)).slice(0, initialBytes),
        );
        return { path: apps[app].path };
      },
      /** `tokens` writes of `token`, `burst` of them per event-loop turn, then the end. */
      async write({ app, tokens, burst, token }) {
        const target = apps[app];
        const startedAt = performance.now();
        for (let n = 1; n <= tokens; n++) {
          target.write(token);
          if (n % burst === 0) await turn();
        }
        await turn();
        return { ms: performance.now() - startedAt };
      },
      async end({ app }) {
        apps[app].end();
        return {};
      },
    },
  };
}
