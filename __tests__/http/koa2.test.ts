import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type KoaType from 'koa';
import { sseTasks, TaskRunner } from '../../src';
import { defineControlled } from '../helpers/controlled';
import { dataOf, openStream } from '../helpers/sse';

// Koa 2 is installed beside Koa 3 as the `koa2` alias; the peer dependency allows both.
const Koa2 = require('koa2') as typeof KoaType;

describe('on Koa 2', () => {
  it('serves the API and streams a task to its end, logging nothing when a client leaves', async () => {
    const runner = new TaskRunner();
    const controlled = defineControlled(runner);
    const app = new Koa2();
    const errors: unknown[] = [];
    app.on('error', (error: unknown) => errors.push(error));
    app.use(sseTasks({ runner }));
    const server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(require('koa2/package.json').version).toMatch(/^2\./);
      const created = await fetch(`${base}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"type":"controlled"}',
      });
      expect(created.status).toBe(202);
      const { id } = (await created.json()) as { id: string };
      const { job, complete } = await controlled.running(id);
      const leaving = await openStream(`${base}/tasks/${id}/events`);
      const staying = await openStream(`${base}/tasks/${id}/events`);
      await Promise.all([leaving.waitForEvents(1), staying.waitForEvents(1)]);
      leaving.destroy();
      job.progress(50);
      complete('ok');
      await staying.ended;
      expect(staying.events.map((e) => e.event)).toEqual(['status', 'progress', 'complete']);
      expect(dataOf(staying.events[2]).result).toBe('ok');
      expect((await fetch(`${base}/tasks/${id}`, { method: 'PUT' })).status).toBe(405);
      expect(errors).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runner.close();
    }
  });
});
