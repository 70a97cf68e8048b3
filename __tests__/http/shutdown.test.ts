import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { sseTasks, TaskRunner } from '../../src';
import { startTask } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { openStream } from '../helpers/sse';

describe('closing the middleware', () => {
  it('ends every open stream, refuses new ones with 503, and lets the server close', async () => {
    const runner = new TaskRunner();
    const controlled = defineControlled(runner);
    const tasks = sseTasks({ runner });
    const app = new Koa();
    app.use(tasks);
    const server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const id = await startTask(base, 'controlled');
    await controlled.running(id);
    const streams = await Promise.all([1, 2, 3].map(() => openStream(`${base}/tasks/${id}/events`)));
    await Promise.all(streams.map((s) => s.waitForEvents(1)));
    expect(tasks.openStreams).toBe(3);

    tasks.close();
    await Promise.all(streams.map((s) => s.ended));
    expect(tasks.openStreams).toBe(0);
    const refused = await fetch(`${base}/tasks/${id}/events`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: { code: 'shutting_down', message: expect.any(String) } });
    expect((await fetch(`${base}/tasks/${id}`)).status).toBe(200);

    server.closeIdleConnections();
    await new Promise((resolve) => server.close(resolve));
    await runner.close();
  });
});
