import http from 'node:http';
import Redis from 'ioredis';
import { z } from 'zod';
import { RedisStore } from '../../src/redis';
import type { TaskSnapshot } from '../../src';
import { postJson, startApp, type StartAppOptions, type TestApp } from '../helpers/app';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

let apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps) await app.close();
  apps = [];
});

/** An app whose `report` jobs count their runs; `owner` is the `x-user` header. */
async function start(options: StartAppOptions = {}): Promise<{ app: TestApp; runs: unknown[] }> {
  const runs: unknown[] = [];
  const app = await startApp({
    ...options,
    middleware: { owner: (ctx) => ctx.get('x-user') || undefined, ...options.middleware },
    define: (runner) => {
      runner.define('report', (job) => void runs.push(job.input), {
        input: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/), kind: z.string().default('daily') }),
      });
      runner.define('export', () => 'done');
    },
  });
  apps.push(app);
  return { app, runs };
}

const post = (app: TestApp, body: unknown, key: string, headers: Record<string, string> = {}): Promise<Response> =>
  postJson(app.base, '/tasks', body, { 'Idempotency-Key': key, ...headers });

describe('POST /tasks with Idempotency-Key', () => {
  it('creates the task once: a repeat answers 200 with its current snapshot, the same Location, and Idempotent-Replayed', async () => {
    const { app, runs } = await start();
    const body = { type: 'report', input: { month: '2024-02' } };
    const first = await post(app, body, 'k-1');
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const created = (await first.json()) as TaskSnapshot;
    await finished(app.runner, created.id);
    const repeat = await post(app, body, 'k-1');
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get('idempotent-replayed')).toBe('true');
    expect(repeat.headers.get('location')).toBe(first.headers.get('location'));
    expect(await repeat.json()).toMatchObject({ id: created.id, status: 'completed' });
    expect(runs).toHaveLength(1);
  });

  it('answers the same key with another type or input 422, key order ignored, and the key not echoed', async () => {
    const { app } = await start();
    const key = 'secret-2b9c41';
    expect((await post(app, { type: 'report', input: { month: '2024-02', kind: 'weekly' } }, key)).status).toBe(202);
    const reordered = await post(app, { input: { kind: 'weekly', month: '2024-02' }, type: 'report' }, key);
    expect(reordered.status).toBe(200);
    for (const body of [
      { type: 'report', input: { month: '2024-03', kind: 'weekly' } },
      { type: 'report', input: { month: '2024-02' } },
      { type: 'export', input: { month: '2024-02', kind: 'weekly' } },
    ]) {
      const reused = await post(app, body, key);
      expect(reused.status).toBe(422);
      const text = await reused.text();
      expect(JSON.parse(text)).toEqual({ error: { code: 'idempotency_key_reused', message: expect.any(String) } });
      expect(text).not.toContain(key);
    }
  });

  it('stores no key for a body that fails validation', async () => {
    const { app } = await start();
    expect((await post(app, { type: 'report', input: {} }, 'k')).status).toBe(400);
    expect((await post(app, { type: 'report', input: { month: '2024-02' } }, 'k')).status).toBe(202);
  });

  it("keeps different owners' keys apart, and requests without an owner in one key space", async () => {
    const { app } = await start();
    const body = { type: 'report', input: { month: '2024-02' } };
    const ids = [];
    for (const user of ['alice', 'bob', '']) {
      const response = await post(app, body, 'shared', user === '' ? {} : { 'x-user': user });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as TaskSnapshot).id);
    }
    expect(new Set(ids).size).toBe(3);
    const anonymous = await post(app, body, 'shared');
    expect(anonymous.status).toBe(200);
    expect(((await anonymous.json()) as TaskSnapshot).id).toBe(ids[2]);
  });

  it('answers a replay only to a request that authorize lets see the task (403 otherwise), starting nothing', async () => {
    const { app, runs } = await start({
      middleware: { owner: () => undefined, authorize: (ctx) => ctx.get('x-role') !== 'guest' },
    });
    const body = { type: 'report', input: { month: '2024-02' } };
    const first = (await (await post(app, body, 'k')).json()) as TaskSnapshot;
    const refused = await post(app, body, 'k', { 'x-role': 'guest' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
    await finished(app.runner, first.id);
    expect(runs).toHaveLength(1);
  });

  it('shares its key space with runner.start(..., { idempotencyKey, owner })', async () => {
    const { app } = await start();
    const started = await app.runner.start('report', { month: '2024-02' }, { idempotencyKey: 'k', owner: 'alice' });
    const repeat = await post(app, { type: 'report', input: { month: '2024-02' } }, 'k', { 'x-user': 'alice' });
    expect(repeat.status).toBe(200);
    expect(((await repeat.json()) as TaskSnapshot).id).toBe(started.id);
  });

  it('creates exactly one task for ten POSTs with one key at once: one 202 and nine 200, all with its id', async () => {
    const { app, runs } = await start();
    const body = { type: 'report', input: { month: '2024-02' } };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(app, body, 'burst')));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = await Promise.all(answers.map(async (answer) => ((await answer.json()) as TaskSnapshot).id));
    expect(new Set(ids).size).toBe(1);
    await finished(app.runner, ids[0]!);
    expect(runs).toHaveLength(1);
  });

  it.each([
    ['empty', ''],
    ['256 characters', 'x'.repeat(256)],
    ['a space', 'two words'],
    ['a non-ASCII byte', 'caf\u00e9'],
    ['given twice', ['a', 'b']],
  ])('answers a key that is %s with 400 invalid_idempotency_key, starting nothing', async (_, key) => {
    const { app } = await start();
    const { status, body } = await rawPost(app, JSON.stringify({ type: 'export' }), key);
    expect(status).toBe(400);
    expect(JSON.parse(body)).toEqual({ error: { code: 'invalid_idempotency_key', message: expect.any(String) } });
    expect(await app.runner.store.queuedCount(['export'])).toBe(0);
  });

  it('takes a key of 1 and of 255 characters from 0x21 to 0x7E', async () => {
    const { app } = await start();
    for (const key of ['!', `"${'~'.repeat(253)}"`]) {
      expect((await post(app, { type: 'export' }, key)).status).toBe(202);
    }
  });

  it('with cors, allows Idempotency-Key in preflights and exposes Idempotent-Replayed', async () => {
    const origin = 'https://app.example';
    for (const cors of [{ origin }, { origin, allowHeaders: ['Content-Type'] }]) {
      const { app } = await start({ middleware: { cors } });
      const preflight = await fetch(`${app.base}/tasks`, {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type,idempotency-key',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
      const created = await post(app, { type: 'export' }, 'k', { Origin: origin });
      expect(created.headers.get('access-control-expose-headers')).toContain('Idempotent-Replayed');
    }
  });
});

describe('POST /tasks with Idempotency-Key on instances sharing Redis', () => {
  const keyPrefix = uniquePrefix('http-idempotency');
  afterAll(() => deleteKeys(keyPrefix));

  it('creates exactly one task for ten POSTs spread over three instances, and stores the key only as a digest', async () => {
    const instances: TestApp[] = [];
    for (let i = 0; i < 3; i++) {
      const store = new RedisStore({ url: REDIS_URL, keyPrefix });
      instances.push((await start({ runner: { store, worker: i === 0 } })).app);
    }
    const key = 'plain-key-5d1e0a';
    const body = { type: 'export' };
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => post(instances[i % 3]!, body, key)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = await Promise.all(answers.map(async (answer) => ((await answer.json()) as TaskSnapshot).id));
    expect(new Set(ids).size).toBe(1);
    expect((await finished(instances[1]!.runner, ids[0]!)).status).toBe('completed');
    const redis = new Redis(REDIS_URL);
    try {
      const names = await redis.keys(`${keyPrefix}*`);
      expect(names.join('\n')).not.toContain(key);
      for (const name of names.filter((n) => n.includes('once:') || n.includes('task:'))) {
        expect(JSON.stringify(await redis.hgetall(name))).not.toContain(key);
      }
    } finally {
      redis.disconnect();
    }
  });
});

/** A POST with the header exactly as given (bytes, repeats), which fetch would refuse or normalize. */
function rawPost(app: TestApp, body: string, key: string | string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${app.base}/tasks`, { method: 'POST' }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: text }));
    });
    request.on('error', reject);
    request.setHeader('Content-Type', 'application/json');
    request.setHeader('Idempotency-Key', Array.isArray(key) ? key : Buffer.from(key, 'utf8').toString('latin1'));
    request.end(body);
  });
}
