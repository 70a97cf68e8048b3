// The task routes in an app's own @koa/router, as well as with app.use(tasks): nested under the router's prefix,
// answering their own 405s, leaving the app's other routes alone.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { sseTasks, TaskRunner } from '../../src';
import { postJson } from '../helpers/app';
import { openStream, withoutHeartbeats } from '../helpers/sse';

describe('the task routes mounted in an app router', () => {
  let server: http.Server;
  let runner: TaskRunner;
  let base: string;

  beforeAll(async () => {
    runner = new TaskRunner();
    runner.define('echo', (job) => job.input);
    const tasks = sseTasks({ runner, cors: { origin: 'https://app.example' } });
    const api = new Router({ prefix: '/api' });
    api.get('/health', (ctx) => (ctx.body = { ok: true }));
    api.use(tasks.routes());
    const app = new Koa();
    app.silent = true;
    app.use(api.routes()).use(api.allowedMethods());
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await runner.close();
  });

  it('serves the API under the router prefix, with Location there too', async () => {
    const created = await postJson(base, '/api/tasks', { type: 'echo', input: { n: 1 } });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect(created.headers.get('location')).toBe(`/api/tasks/${id}`);
    const stream = await openStream(`${base}/api/tasks/${id}/events`);
    await stream.ended;
    expect(withoutHeartbeats(stream.events).map((e) => e.event)).toEqual(['complete']);
    expect((await fetch(`${base}/api/tasks/${id}`)).status).toBe(200);
  });

  it('answers its own 405s, OPTIONS and CORS preflights, and errors as JSON', async () => {
    const put = await fetch(`${base}/api/tasks/abc`, { method: 'PUT' });
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'HEAD, GET, DELETE']);
    expect(((await put.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    const options = await fetch(`${base}/api/tasks/events`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow')]).toEqual([200, 'HEAD, GET']);
    const preflight = await fetch(`${base}/api/tasks`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const missing = await fetch(`${base}/api/tasks/nope`);
    expect([missing.status, ((await missing.json()) as { error: { code: string } }).error.code]).toEqual([
      404,
      'task_not_found',
    ]);
  });

  it("leaves the router's other routes and the paths outside it alone", async () => {
    expect(await (await fetch(`${base}/api/health`)).json()).toEqual({ ok: true });
    expect((await fetch(`${base}/tasks`)).status).toBe(404);
  });
});
