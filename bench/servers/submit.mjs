// The `submit` scenario's server: one Koa app serving two runners that only start tasks (worker: false, so what is
// measured is the submission alone): one on a MemoryStore under /memory/tasks, one on a RedisStore (REDIS_URL, a key prefix
// of its own, deleted by finish()) under /redis/tasks. Each has a type `plain` (no schema) and a type `schema` (zod).
import { createServer } from 'node:http';
import Koa from 'koa';
import Redis from 'ioredis';
import { z } from 'zod';
import { sseTasks, TaskRunner } from 'koa-sse-tasks';
import { RedisStore } from 'koa-sse-tasks/redis';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A report's input, as the demo's: a month, a kind with a default, a flag with a default, an optional note. */
const input = z.object({
  month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/),
  report: z.enum(['daily-sales', 'weekly-sales']).default('daily-sales'),
  fail: z.boolean().default(false),
  note: z.string().max(200).optional(),
});

export async function createTarget() {
  const keyPrefix = `bench-submit:${process.pid}:`;
  const runners = {
    memory: new TaskRunner({ worker: false, maxQueued: 100_000_000 }),
    redis: new TaskRunner({
      worker: false,
      maxQueued: 100_000_000,
      store: new RedisStore({ url: REDIS_URL, keyPrefix }),
    }),
  };
  const app = new Koa();
  for (const [name, runner] of Object.entries(runners)) {
    runner.define('plain').define('schema', { input });
    app.use(sseTasks({ runner, prefix: `/${name}/tasks` }));
  }
  const cleanUp = async () => {
    const redis = new Redis(REDIS_URL);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  };
  return {
    server: createServer(app.callback()),
    async prepare() {
      return { paths: ['/memory/tasks', '/redis/tasks'] };
    },
    publish() {},
    async finish() {
      await cleanUp();
    },
    async counts() {
      return { storedTasks: runners.memory.store.size };
    },
  };
}
