import { type } from 'arktype';
import * as v from 'valibot';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { InvalidInputError, MemoryStore, TaskRunner, type Job, type StandardSchemaV1 } from '../../src';
import { RedisStore } from '../../src/redis';
import { waitUntil } from '../helpers/app';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { finished } from '../helpers/tasks';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * The same report input in each library: a month, a report kind that defaults to daily, a label that is trimmed, and
 * optional items (for a path through an array).
 */
const SCHEMAS: Array<[library: string, schema: StandardSchemaV1]> = [
  [
    'zod 4',
    z.object({
      month: z.string().regex(MONTH),
      report: z.enum(['daily-sales', 'weekly-sales']).default('daily-sales'),
      label: z.string().trim().optional(),
      items: z.array(z.object({ sku: z.string() })).optional(),
    }),
  ],
  [
    'zod 3',
    z3.object({
      month: z3.string().regex(MONTH),
      report: z3.enum(['daily-sales', 'weekly-sales']).default('daily-sales'),
      label: z3.string().trim().optional(),
      items: z3.array(z3.object({ sku: z3.string() })).optional(),
    }),
  ],
  [
    'valibot',
    v.object({
      month: v.pipe(v.string(), v.regex(MONTH)),
      report: v.optional(v.picklist(['daily-sales', 'weekly-sales']), 'daily-sales'),
      label: v.optional(v.pipe(v.string(), v.trim())),
      items: v.optional(v.array(v.object({ sku: v.string() }))),
    }),
  ],
  [
    'arktype',
    type({
      month: MONTH,
      report: "'daily-sales' | 'weekly-sales' = 'daily-sales'",
      'label?': 'string.trim',
      'items?': type({ sku: 'string' }).array(),
    }),
  ],
];

describe.each(SCHEMAS)('runner.define(type, handler, { input }) with %s', (_library, schema) => {
  let runner: TaskRunner;
  let store: MemoryStore;
  let inputs: unknown[];
  let events: number;
  beforeEach(() => {
    store = new MemoryStore();
    runner = new TaskRunner({ store });
    inputs = [];
    events = 0;
    runner.on('event', () => events++);
    runner.define('report', (job: Job) => void inputs.push(job.input), { input: schema });
  });
  afterEach(() => runner.close());

  it('refuses an input that fails the schema with its issues, before anything is stored', async () => {
    const refused = runner.start('report', { items: [{ sku: 7 }] });
    await expect(refused).rejects.toBeInstanceOf(InvalidInputError);
    const { issues, code, status } = (await refused.catch((error: unknown) => error)) as InvalidInputError;
    expect({ code, status }).toEqual({ code: 'invalid_input', status: 400 });
    expect(issues.map((issue) => issue.path)).toEqual(expect.arrayContaining([['month'], ['items', 0, 'sku']]));
    for (const issue of issues) expect(issue.message).toEqual(expect.any(String));
    expect(store.size).toBe(0);
    expect(await store.queuedCount(['report'])).toBe(0);
    expect(events).toBe(0);
  });

  it('answers an input that is not even an object with one issue about the whole input', async () => {
    const error = (await runner.start('report', 'June').catch((e: unknown) => e)) as InvalidInputError;
    expect(error.issues).toEqual([{ message: expect.any(String), path: [] }]);
  });

  it("hands the job the schema's output: defaults filled and transforms applied", async () => {
    const { id } = await runner.start('report', { month: '2024-02', label: '  February  ' });
    expect((await finished(runner, id)).status).toBe('completed');
    expect(inputs).toEqual([{ month: '2024-02', report: 'daily-sales', label: 'February' }]);
  });
});

describe('input schemas', () => {
  let runner: TaskRunner;
  afterEach(() => runner.close());

  it('waits for an asynchronous validator', async () => {
    runner = new TaskRunner();
    const taken = new Set(['alice']);
    const name = z.string().refine(async (value) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return !taken.has(value);
    }, 'That name is taken');
    const ran: unknown[] = [];
    runner.define('signup', (job) => void ran.push(job.input), { input: z.object({ name }) });
    const refused = (await runner.start('signup', { name: 'alice' }).catch((e: unknown) => e)) as InvalidInputError;
    expect(refused.issues).toEqual([{ message: 'That name is taken', path: ['name'] }]);
    const { id } = await runner.start('signup', { name: 'bob' });
    await finished(runner, id);
    expect(ran).toEqual([{ name: 'bob' }]);
  });

  it("reports a validator that throws to runner.on('error'), rejects start() with its error, and stores nothing", async () => {
    const store = new MemoryStore();
    runner = new TaskRunner({ store });
    const broken = new Error('the schema library broke');
    const schema: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => {
          throw broken;
        },
      },
    };
    runner.define('report', () => 'done', { input: schema });
    const reported: unknown[] = [];
    runner.on('error', (error) => reported.push(error));
    await expect(runner.start('report', {})).rejects.toBe(broken);
    expect(reported).toEqual([broken]);
    expect(store.size).toBe(0);
  });

  it('treats an answer that is no Standard Schema result as a failing validator', async () => {
    runner = new TaskRunner();
    const schema = { '~standard': { version: 1, vendor: 'test', validate: () => 42 } } as unknown as StandardSchemaV1;
    runner.define('report', () => 'done', { input: schema });
    const reported: unknown[] = [];
    runner.on('error', (error) => reported.push(error));
    await expect(runner.start('report', {})).rejects.toThrow('the input schema of "report" answered no result object');
    expect(reported).toHaveLength(1);
  });

  it('refuses an `input` option that is not a Standard Schema, naming it', () => {
    runner = new TaskRunner();
    expect(() => runner.define('report', () => 1, { input: { parse: () => 1 } } as never)).toThrow(
      'expected `input of "report"` to be a Standard Schema v1 validator (a zod 3.24+, valibot 1 or arktype 2 schema...), got an object',
    );
  });

  it('validates with the schema of a type a worker: false runner declares; the worker runs the output as stored', async () => {
    const keyPrefix = uniquePrefix('validation');
    const calls: unknown[] = [];
    const schema = z.object({ month: z.string().regex(MONTH) }).transform((input) => {
      calls.push(input);
      return { ...input, year: Number(input.month.slice(0, 4)) };
    });
    runner = new TaskRunner({ store: new RedisStore({ url: REDIS_URL, keyPrefix }), worker: false });
    const worker = new TaskRunner({ store: new RedisStore({ url: REDIS_URL, keyPrefix }) });
    try {
      runner.define('report', { input: schema });
      const ran: unknown[] = [];
      worker.define('report', (job) => void ran.push(job.input), { input: schema });
      await expect(runner.start('report', { month: '2024-13' })).rejects.toBeInstanceOf(InvalidInputError);
      const { id } = await runner.start('report', { month: '2024-02' });
      await waitUntil(() => ran.length === 1);
      expect(ran).toEqual([{ month: '2024-02', year: 2024 }]);
      expect((await finished(runner, id)).status).toBe('completed');
      // Once by start(): the worker took the stored output as it was, without validating it again.
      expect(calls).toEqual([{ month: '2024-02' }]);
    } finally {
      await worker.close();
      await deleteKeys(keyPrefix);
    }
  });
});
