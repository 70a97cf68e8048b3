import request from 'supertest';
import { startApp, startTask, type TestApp } from '../helpers/app';
import { openStream } from '../helpers/sse';

const userOf = (ctx: { get(name: string): string }): string | undefined => ctx.get('X-User') || undefined;

describe('owners and authorization', () => {
  let t: TestApp;
  afterEach(() => t.close());

  it('records owner(ctx) and by default lets only that owner read, follow or cancel', async () => {
    t = await startApp({
      middleware: { owner: userOf },
      define: (runner) =>
        runner.define(
          'wait',
          (job) =>
            new Promise((_, reject) => job.signal.addEventListener('abort', () => reject(job.signal.reason as Error))),
        ),
    });
    const created = await request(t.server).post('/tasks').set('X-User', 'ada').send({ type: 'wait' });
    expect(created.body.owner).toBe('ada');
    const id = created.body.id as string;

    for (const user of ['bob', undefined]) {
      const headers: Record<string, string> = user ? { 'X-User': user } : {};
      const get = await request(t.server).get(`/tasks/${id}`).set(headers);
      expect(get.status).toBe(403);
      expect(get.body.error.code).toBe('forbidden');
      const events = await openStream(`${t.base}/tasks/${id}/events`, headers);
      expect(events.status).toBe(403);
      events.destroy();
      expect((await request(t.server).delete(`/tasks/${id}`).set(headers)).status).toBe(403);
    }
    expect((await request(t.server).get(`/tasks/${id}`).set('X-User', 'ada')).status).toBe(200);
    const stream = await openStream(`${t.base}/tasks/${id}/events`, { 'X-User': 'ada' });
    expect(stream.status).toBe(200);
    stream.destroy();
    expect((await request(t.server).delete(`/tasks/${id}`).set('X-User', 'ada')).body.status).toBe('cancelled');
  });

  it('asks authorize(ctx, task), which may be async, before GET, events and DELETE', async () => {
    const asked: string[] = [];
    t = await startApp({
      middleware: {
        authorize: async (ctx, task) => {
          asked.push(`${ctx.method} ${task.status}`);
          return ctx.get('Authorization') === 'Bearer yes';
        },
      },
      define: (runner) => runner.define('echo', () => 'ok'),
    });
    const id = await startTask(t.base, 'echo');
    expect((await request(t.server).get(`/tasks/${id}`)).status).toBe(403);
    expect((await openStream(`${t.base}/tasks/${id}/events`)).status).toBe(403);
    expect((await request(t.server).delete(`/tasks/${id}`)).status).toBe(403);
    expect((await request(t.server).get(`/tasks/${id}`).set('Authorization', 'Bearer yes')).status).toBe(200);
    expect(asked.map((a) => a.split(' ')[0])).toEqual(['GET', 'GET', 'DELETE', 'GET']);
  });

  it('answers 500 JSON, and reports to the app, when authorize throws', async () => {
    t = await startApp({
      middleware: {
        authorize: () => {
          throw new Error('session store down');
        },
      },
      define: (runner) => runner.define('echo', () => 'ok'),
    });
    const id = await startTask(t.base, 'echo');
    const res = await request(t.server).get(`/tasks/${id}`);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal_error', message: 'Internal Server Error' } });
    expect(t.errors).toHaveLength(1);
  });
});

describe('CORS', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startApp({
      middleware: { cors: { origin: 'https://app.example', credentials: true } },
      define: (runner) => runner.define('echo', () => 'ok'),
    });
  });
  afterEach(() => t.close());

  it('applies to successes and exposes Location and Idempotent-Replayed', async () => {
    const res = await request(t.server).post('/tasks').set('Origin', 'https://app.example').send({ type: 'echo' });
    expect(res.status).toBe(202);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-expose-headers']).toBe('Location,Idempotent-Replayed');
  });

  it('applies to errors and to event streams', async () => {
    const missing = await request(t.server).get('/tasks/nope').set('Origin', 'https://app.example');
    expect(missing.status).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe('https://app.example');
    const id = await startTask(t.base, 'echo');
    const stream = await openStream(`${t.base}/tasks/${id}/events`, { Origin: 'https://app.example' });
    expect(stream.headers['access-control-allow-origin']).toBe('https://app.example');
    stream.destroy();
  });

  it('answers preflight requests', async () => {
    const res = await request(t.server)
      .options('/tasks')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-methods']).toContain('POST');
  });

  it('does not touch paths outside the prefix', async () => {
    const res = await request(t.server).get('/elsewhere').set('Origin', 'https://app.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
