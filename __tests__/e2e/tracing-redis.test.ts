import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { startTask, waitUntil } from '../helpers/app';
import { startInstance, type Instance } from '../helpers/processes';
import { PG_URL, dropSchemas, uniqueSchema } from '../helpers/postgres';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';
import { named, one, spansIn } from '../helpers/tracing';

jest.setTimeout(60_000);

/** Where the processes share their tasks: the environment of the instance fixture, and how to clean up. */
function redis(): [Record<string, string>, () => Promise<unknown>] {
  const keyPrefix = uniquePrefix('tracing');
  return [{ REDIS_URL, KEY_PREFIX: keyPrefix }, () => deleteKeys(keyPrefix)];
}

function postgres(): [Record<string, string>, () => Promise<unknown>] {
  const schema = uniqueSchema('tracing');
  return [{ STORE: 'postgres', PG_URL, PG_SCHEMA: schema }, () => dropSchemas([schema])];
}

/** A web and a worker process sharing one store, each tracing with the OpenTelemetry SDK into its own file. */
describe.each([
  ['RedisStore', redis],
  ['PostgresStore', postgres],
])('a trace across a web and a worker process sharing a %s', (_name, shared) => {
  const [common, cleanUp] = shared();
  const instances: Instance[] = [];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'koa-sse-tasks-traces-'));
  });
  afterAll(async () => {
    await Promise.all(instances.splice(0).map((instance) => instance.stop()));
    rmSync(dir, { recursive: true, force: true });
    await cleanUp();
  });

  it("continues the web's trace in the worker: its task.run span is the child of the web's task.enqueue span", async () => {
    const webFile = path.join(dir, 'web.jsonl');
    const workerFile = path.join(dir, 'worker.jsonl');
    const [web, worker] = await Promise.all([
      startInstance({ ...common, ROLE: 'web', TRACE_FILE: webFile }),
      startInstance({ ...common, ROLE: 'worker', TRACE_FILE: workerFile }),
    ]);
    instances.push(web, worker);

    const id = await startTask(web.base, 'report', { steps: 2, stepMs: 10 });
    await waitUntil(
      () =>
        named(spansIn(workerFile), 'report.result').length === 1 &&
        named(spansIn(workerFile), 'task.run report').length === 1,
      15_000,
      "the worker's spans",
    );
    await waitUntil(
      async () => {
        const snapshot = (await (await fetch(`${web.base}/tasks/${id}`)).json()) as { status: string };
        return snapshot.status === 'completed';
      },
      15_000,
      'the task to complete',
    );

    const webSpans = spansIn(webFile);
    const server = one(webSpans, 'POST /tasks');
    const enqueue = one(webSpans, 'task.enqueue report');
    expect(enqueue).toMatchObject({ kind: SpanKind.PRODUCER, traceId: server.traceId, parentSpanId: server.spanId });
    expect(named(webSpans, 'task.run report')).toEqual([]); // the web runs no job

    const workerSpans = spansIn(workerFile);
    const run = one(workerSpans, 'task.run report');
    expect(run).toMatchObject({ kind: SpanKind.CONSUMER, traceId: server.traceId, parentSpanId: enqueue.spanId });
    expect(run.attributes).toEqual({
      'task.id': id,
      'task.type': 'report',
      'task.attempt': 1,
      'task.status': 'completed',
    });
    expect(one(workerSpans, 'report.result')).toMatchObject({ traceId: server.traceId, parentSpanId: run.spanId });
  });
});
