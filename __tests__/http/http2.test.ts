import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createParser } from 'eventsource-parser';
import { sseTasks, TaskRunner } from '../../src';
import { defineControlled } from '../helpers/controlled';
import { http2Request } from '../helpers/http2';

const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection'];

describe('over HTTP/2', () => {
  let server: http2.Http2Server;
  let runner: TaskRunner;
  let client: http2.ClientHttp2Session;
  let controlled: ReturnType<typeof defineControlled>;
  let setHeader: jest.SpyInstance;

  beforeEach(async () => {
    // Node drops a connection-specific header on HTTP/2 with only a warning: watch what is set, not what arrives.
    setHeader = jest.spyOn(http2.Http2ServerResponse.prototype, 'setHeader');
    runner = new TaskRunner();
    controlled = defineControlled(runner);
    const app = new Koa();
    app.silent = true;
    app.use(sseTasks({ runner }));
    server = http2.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterEach(async () => {
    setHeader.mockRestore();
    client.close();
    await new Promise((resolve) => server.close(resolve));
    await runner.close();
  });

  const request = (headers: http2.OutgoingHttpHeaders, body?: string) => http2Request(client, headers, body);

  it('streams a task with no connection-specific header, several streams on one connection', async () => {
    const created = await request(
      { ':method': 'POST', ':path': '/tasks', 'content-type': 'application/json' },
      '{"type":"controlled"}',
    );
    expect(created.headers[':status']).toBe(202);
    const { id } = JSON.parse(created.body) as { id: string };
    const { job, complete } = await controlled.running(id);

    const followers = [1, 2, 3].map(() => request({ ':path': `/tasks/${id}/events` }));
    await new Promise((r) => setTimeout(r, 50));
    job.progress(50, 'half');
    complete('done');
    const responses = await Promise.all(followers);

    for (const response of responses) {
      expect(response.headers[':status']).toBe(200);
      expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      for (const name of CONNECTION_SPECIFIC) expect(response.headers[name]).toBeUndefined();
      const events: string[] = [];
      createParser({ onEvent: (e) => events.push(e.event ?? 'message') }).feed(response.body);
      expect(events).toEqual(['status', 'progress', 'complete']);
    }
    const named = setHeader.mock.calls.map(([name]) => String(name).toLowerCase());
    expect(named).toContain('content-type');
    expect(named.filter((name) => CONNECTION_SPECIFIC.includes(name))).toEqual([]);
  });
});
