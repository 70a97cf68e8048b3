import * as v from 'valibot';
import type { StandardSchemaV1 } from '../../src';
import { postJson, startApp, type TestApp } from '../helpers/app';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const REPORT = v.object({
  month: v.pipe(v.string(), v.regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'Expected a month as YYYY-MM, e.g. "2024-02"')),
  items: v.optional(v.array(v.object({ sku: v.string() }))),
});

describe('POST /tasks of a type with an input schema', () => {
  it('answers an input that fails it with 400 invalid_input and its issues, and stores nothing', async () => {
    const events: unknown[] = [];
    app = await startApp({ define: (runner) => runner.define('report', () => 'done', { input: REPORT }) });
    app.runner.on('event', (id) => events.push(id));
    const response = await postJson(app.base, '/tasks', { type: 'report', input: { items: [{ sku: 1 }] } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        code: 'invalid_input',
        message: expect.stringMatching(/^Invalid input for "report" at month: /),
        issues: [
          { message: expect.any(String), path: ['month'] },
          { message: expect.any(String), path: ['items', 0, 'sku'] },
        ],
      },
    });
    expect(await app.runner.store.queuedCount(['report'])).toBe(0);
    expect(events).toEqual([]);
  });

  it('answers the example of the issue, an empty input, with the message for the month', async () => {
    app = await startApp({ define: (runner) => runner.define('report', () => 'done', { input: REPORT }) });
    const response = await postJson(app.base, '/tasks', { type: 'report', input: {} });
    const { error } = (await response.json()) as { error: { issues: unknown[] } };
    expect(response.status).toBe(400);
    expect(error.issues).toEqual([{ message: expect.any(String), path: ['month'] }]);
  });

  it("gives the path [] to an issue about the whole input, and the schema's own message", async () => {
    app = await startApp({ define: (runner) => runner.define('report', () => 'done', { input: REPORT }) });
    const response = await postJson(app.base, '/tasks', { type: 'report' });
    const { error } = (await response.json()) as { error: { issues: unknown[] } };
    expect(error.issues).toEqual([{ message: expect.stringMatching(/^Invalid type/), path: [] }]);
    const month = await postJson(app.base, '/tasks', { type: 'report', input: { month: '2024-13' } });
    expect(((await month.json()) as { error: { issues: unknown[] } }).error.issues).toEqual([
      { message: 'Expected a month as YYYY-MM, e.g. "2024-02"', path: ['month'] },
    ]);
  });

  it("answers a validator that throws with a generic 500, reporting its error to runner.on('error') and the app", async () => {
    const broken = new Error('the schema library broke: details of the server');
    const schema: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async () => {
          throw broken;
        },
      },
    };
    const reported: unknown[] = [];
    app = await startApp({
      define: (runner) => {
        runner.define('report', () => 'done', { input: schema });
        runner.on('error', (error) => reported.push(error));
      },
    });
    const response = await postJson(app.base, '/tasks', { type: 'report', input: {} });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: 'internal_error', message: 'Internal Server Error' } });
    expect(reported).toEqual([broken]);
    expect(app.errors).toEqual([broken]);
    // The server goes on.
    expect((await postJson(app.base, '/tasks', { type: 'nope' })).status).toBe(400);
  });
});
