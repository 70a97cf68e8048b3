import request from 'supertest';
import type Koa from 'koa';
import { startApp, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';

describe('the task API', () => {
  let t: TestApp;
  let controlled: ReturnType<typeof defineControlled>;
  let parsedBody: unknown;

  beforeEach(async () => {
    parsedBody = undefined;
    const bodyParser: Koa.Middleware = async (ctx, next) => {
      if (parsedBody !== undefined) (ctx.request as { body?: unknown }).body = parsedBody;
      await next();
    };
    const rest: Koa.Middleware = async (ctx, next) => {
      if (ctx.path === '/other') ctx.body = { other: true };
      else await next();
    };
    t = await startApp({
      before: [bodyParser],
      after: [rest],
      define: (runner) => {
        controlled = defineControlled(runner);
        runner.define('echo', (job) => job.input);
      },
    });
  });
  afterEach(() => t.close());

  function expectError(body: unknown, code: string): void {
    expect(body).toEqual({ error: { code, message: expect.any(String) } });
  }

  describe('POST /tasks', () => {
    it('starts a task: 202, its snapshot, and a Location that serves it', async () => {
      const res = await request(t.server)
        .post('/tasks')
        .send({ type: 'echo', input: { n: 1 } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ type: 'echo', status: 'queued', progress: 0 });
      expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      expect(res.headers.location).toBe(`/tasks/${res.body.id}`);
      const snapshot = await request(t.server).get(res.headers.location as string);
      expect(snapshot.status).toBe(200);
      expect(snapshot.body.id).toBe(res.body.id);
    });

    it('answers 400 for a task type that is not defined', async () => {
      const res = await request(t.server).post('/tasks').send({ type: 'video' });
      expect(res.status).toBe(400);
      expectError(res.body, 'unknown_task_type');
      expect(res.body.error.message).toContain('video');
    });

    it('answers 400 for a body that is not valid JSON', async () => {
      const res = await request(t.server).post('/tasks').set('Content-Type', 'application/json').send('{"type": ');
      expect(res.status).toBe(400);
      expectError(res.body, 'invalid_json');
    });

    it.each([['[]'], ['"report"'], ['{"input": 1}'], ['{"type": 5}'], ['null']])(
      'answers 400 for the JSON body %s',
      async (body) => {
        const res = await request(t.server).post('/tasks').set('Content-Type', 'application/json').send(body);
        expect(res.status).toBe(400);
        expectError(res.body, 'invalid_body');
      },
    );

    it('answers 415 for a body that is not JSON, or has no type', async () => {
      const form = await request(t.server).post('/tasks').type('form').send('type=echo');
      expect(form.status).toBe(415);
      expectError(form.body, 'unsupported_media_type');
      const untyped = await request(t.server)
        .post('/tasks')
        .set('Content-Type', '')
        .send(Buffer.from('{"type":"echo"}'));
      expect(untyped.status).toBe(415);
    });

    it('accepts application/*+json', async () => {
      const res = await request(t.server)
        .post('/tasks')
        .set('Content-Type', 'application/vnd.api+json')
        .send('{"type":"echo"}');
      expect(res.status).toBe(202);
    });

    it('answers 413 over the body limit (64 KiB), by declared length and by counted bytes', async () => {
      const big = JSON.stringify({ type: 'echo', input: 'x'.repeat(65_536) });
      const declared = await request(t.server).post('/tasks').set('Content-Type', 'application/json').send(big);
      expect(declared.status).toBe(413);
      expectError(declared.body, 'payload_too_large');

      const chunked = await fetch(`${t.base}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([big]).stream(),
        duplex: 'half',
      });
      expect(chunked.status).toBe(413);
      expectError(await chunked.json(), 'payload_too_large');
    });

    it('takes the body a body parser already read', async () => {
      parsedBody = { type: 'echo', input: 'from parser' };
      const res = await request(t.server).post('/tasks').set('Content-Type', 'application/json').send('');
      expect(res.status).toBe(202);
      const done = await waitForStatus(res.body.id, 'completed');
      expect(done.result).toBe('from parser');
    });
  });

  async function waitForStatus(id: string, status: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      const res = await request(t.server).get(`/tasks/${id}`);
      if (res.body.status === status) return res.body as Record<string, unknown>;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`task ${id} never reached ${status}`);
  }

  describe('GET /tasks/:id', () => {
    it('answers 404 with a JSON error for an unknown task', async () => {
      const res = await request(t.server).get('/tasks/7b0c4a4e-0000-4000-8000-000000000000');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expectError(res.body, 'task_not_found');
    });

    it.each(['%00', 'a%20b', 'x'.repeat(129), '%C3%A9t%C3%A9', '..', '%2e%2e%2fetc'])(
      'answers 400, never 5xx, for the id %s',
      async (id) => {
        const res = await request(t.server).get(`/tasks/${id}`);
        expect(res.status).toBe(400);
        expectError(res.body, 'invalid_task_id');
      },
    );

    it('answers HEAD like GET, without a body', async () => {
      const { body } = await request(t.server).post('/tasks').send({ type: 'echo' });
      const res = await request(t.server).head(`/tasks/${body.id}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.text).toBeUndefined();
    });

    it('tolerates a trailing slash', async () => {
      const created = await request(t.server).post('/tasks/').send({ type: 'echo' });
      expect(created.status).toBe(202);
      expect((await request(t.server).get(`/tasks/${created.body.id}/`)).status).toBe(200);
    });
  });

  describe('DELETE /tasks/:id', () => {
    it('cancels a running task: 202 and the cancelled snapshot; the job signal aborts', async () => {
      const { body } = await request(t.server).post('/tasks').send({ type: 'controlled' });
      const { job } = await controlled.running(body.id);
      const res = await request(t.server).delete(`/tasks/${body.id}`);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id: body.id, status: 'cancelled' });
      expect(job.signal.aborted).toBe(true);
    });

    it('answers 409 for a finished task and 404 for an unknown one', async () => {
      const { body } = await request(t.server).post('/tasks').send({ type: 'echo' });
      await waitForStatus(body.id, 'completed');
      const finished = await request(t.server).delete(`/tasks/${body.id}`);
      expect(finished.status).toBe(409);
      expectError(finished.body, 'task_finished');
      const unknown = await request(t.server).delete('/tasks/nope');
      expect(unknown.status).toBe(404);
    });
  });

  describe('other methods', () => {
    it.each([
      ['put', '/tasks/abc', 'HEAD, GET, DELETE'],
      ['patch', '/tasks/abc/events', 'HEAD, GET'],
      ['delete', '/tasks/events', 'HEAD, GET'], // not a cancel of a task named "events"
      ['post', '/tasks/events', 'HEAD, GET'],
      ['get', '/tasks', 'POST'],
      ['delete', '/tasks', 'POST'],
    ] as const)('answer 405 with Allow: %s %s', async (method, path, allow) => {
      const res = await request(t.server)[method](path);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expectError(res.body, 'method_not_allowed');
    });

    it('answer OPTIONS with what each path allows', async () => {
      for (const [path, allow] of [
        ['/tasks/events', 'HEAD, GET'],
        ['/tasks/abc', 'HEAD, GET, DELETE'],
      ] as const) {
        const res = await request(t.server).options(path);
        expect([path, res.status, res.headers.allow]).toEqual([path, 200, allow]);
      }
    });
  });

  it('leaves paths outside its prefix to the rest of the app', async () => {
    const other = await request(t.server).get('/other');
    expect(other.body).toEqual({ other: true });
    expect((await request(t.server).get('/tasksx')).status).toBe(404);
  });
});
