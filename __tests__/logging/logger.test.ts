import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { MemoryStore, sseTasks, TaskRunner, type Logger } from '../../src';
import { RedisStore } from '../../src/redis';
import { startApp, waitUntil, type TestApp } from '../helpers/app';
import { defineControlled } from '../helpers/controlled';
import { REDIS_URL, startOwnRedis, uniquePrefix } from '../helpers/redis';

/** A JSON line pino wrote. */
interface LogRecord {
  level: number;
  msg: string;
  err?: { message: string; type: string };
  [field: string]: unknown;
}

const WARN = 40;
const ERROR = 50;
const INFO = 30;

/** A real pino logger writing JSON lines to a stream the test reads. */
function recordingPino(): { logger: pino.Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, destination), records };
}

/** A store whose claims fail, as a store whose server is gone would. */
class FailingClaims extends MemoryStore {
  override claim(): Promise<never> {
    return Promise.reject(new Error('the disk is on fire'));
  }
}

describe('the logger option', () => {
  it('gets store failures as error records with the error, besides the error listeners', async () => {
    const { logger, records } = recordingPino();
    const runner = new TaskRunner({ store: new FailingClaims(), logger });
    const heard: unknown[] = [];
    runner.on('error', (error) => heard.push(error));
    const console = jest.spyOn(global.console, 'error').mockImplementation(() => {});
    try {
      runner.define('report', () => 'done');
      await runner.start('report');
      await waitUntil(() => records.length > 0 && heard.length > 0);
      expect(records[0]).toMatchObject({
        level: ERROR,
        msg: 'koa-sse-tasks: a task store operation failed',
        err: { message: 'the disk is on fire', type: 'Error' },
      });
      expect(heard[0]).toBeInstanceOf(Error);
      expect(console).not.toHaveBeenCalled();
    } finally {
      console.mockRestore();
      await runner.close();
    }
  });

  it('leaves console as it was without a logger: an error listener gets the error, nobody else', async () => {
    const runner = new TaskRunner({ store: new FailingClaims() });
    const heard: unknown[] = [];
    const console = jest.spyOn(global.console, 'error').mockImplementation(() => {});
    try {
      runner.define('report', () => 'done');
      await runner.start('report');
      await waitUntil(() => console.mock.calls.length > 0);
      expect(console.mock.calls[0]).toEqual(['koa-sse-tasks: a task store operation failed:', expect.any(Error)]);
      runner.on('error', (error) => heard.push(error));
      const before = console.mock.calls.length;
      await runner.start('report');
      await waitUntil(() => heard.length > 0);
      expect(console.mock.calls.length).toBe(before);
    } finally {
      console.mockRestore();
      await runner.close();
    }
  });

  it('is checked when given', () => {
    expect(() => new TaskRunner({ logger: { info: () => {} } as unknown as Logger })).toThrow(
      /logger.*debug\(\), info\(\), warn\(\) and error\(\)/,
    );
  });

  it('tells the steps of a shutdown, and which jobs it had to fail; sseTasks() to its own logger when given one', async () => {
    const { logger, records } = recordingPino();
    const middlewareLog = recordingPino();
    const runner = new TaskRunner({ logger });
    const controlled = defineControlled(runner);
    const tasks = sseTasks({ runner, logger: middlewareLog.logger });
    const { id } = await runner.start('controlled');
    await controlled.running(id);
    tasks.close();
    await runner.close({ graceMs: 20 });
    expect(middlewareLog.records.map(({ level, msg }) => [level, msg])).toEqual([
      [INFO, 'koa-sse-tasks: closing: ending the event streams and answering long-polls'],
    ]);
    expect(middlewareLog.records[0]).toMatchObject({ streams: 0, longPolls: 0 });
    expect(records.map(({ level, msg }) => [level, msg])).toEqual([
      [INFO, 'koa-sse-tasks: the task runner is closing: nothing more starts here'],
      [WARN, 'koa-sse-tasks: the task runner is closing: failing the 1 jobs still running'],
      [INFO, 'koa-sse-tasks: the task runner is closed'],
    ]);
    expect(records[1]).toMatchObject({ running: 1, graceMs: 20 });
  });

  it("tells a slow client cut off, through sseTasks' default: the runner's logger", async () => {
    const { logger, records } = recordingPino();
    let controlled!: ReturnType<typeof defineControlled>;
    const t: TestApp = await startApp({
      runner: { logger },
      middleware: { bufferBytes: 1024, slowClientMs: 200 },
      define: (runner) => (controlled = defineControlled(runner)),
    });
    try {
      const { id } = await t.runner.start('controlled');
      const { job } = await controlled.running(id);
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const client = net.connect(Number(new URL(t.base).port), '127.0.0.1', () => {
          client.write(`GET /tasks/${id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
          client.once('data', () => resolve(client.pause()));
        });
        client.on('error', reject);
      });
      const deadline = Date.now() + 20_000;
      for (let i = 1; t.tasks.openStreams > 0 && Date.now() < deadline; i++) {
        job.progress((i % 10_000) / 100, 'x'.repeat(1_000));
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      socket.destroy();
      const cut = records.filter((record) => record.level === WARN);
      expect(cut).toHaveLength(1);
      expect(cut[0]).toMatchObject({
        msg: 'koa-sse-tasks: disconnected a slow client: it stayed backed up for 200 ms (slowClientMs)',
        slowClientMs: 200,
      });
      expect(cut[0]!.waitingBytes).toBeGreaterThan(1024);
    } finally {
      await t.close();
    }
  });

  it("tells a takeover of a dead runner's task, with the task's id", async () => {
    const { logger, records } = recordingPino();
    const keyPrefix = uniquePrefix('logger-takeover');
    const store = new RedisStore({ url: REDIS_URL, keyPrefix });
    const runner = new TaskRunner({ store, worker: false, leaseMs: 300, logger });
    runner.define('report');
    try {
      const { id } = await runner.start('report');
      // A worker that claims the task and dies: its lease is never renewed.
      const dead = new RedisStore({ url: REDIS_URL, keyPrefix, logger });
      await dead.claim(['report'], { holder: 'dead-worker', leaseMs: 100 });
      await dead.close();
      await waitUntil(() => records.some((record) => record.level === WARN), 10_000, 'the takeover');
      expect(records.find((record) => record.level === WARN)).toMatchObject({
        msg: "koa-sse-tasks: took over a task whose runner's lease expired (the runner was lost); failing it",
        taskId: id,
        type: 'report',
      });
    } finally {
      await runner.close();
    }
  });

  it('reaches RedisStore through useLogger(), unless the store has a logger of its own', async () => {
    const redis = await startOwnRedis();
    const runnerLog = recordingPino(); // the runner's, which its store takes
    const otherRunnerLog = recordingPino(); // a runner's whose store has a logger of its own
    const storeLog = recordingPino();
    const withRunners = new TaskRunner({
      store: new RedisStore({ url: redis.url, keyPrefix: uniquePrefix('logger') }),
      worker: false,
      logger: runnerLog.logger,
    });
    const withOwn = new TaskRunner({
      store: new RedisStore({ url: redis.url, keyPrefix: uniquePrefix('logger'), logger: storeLog.logger }),
      worker: false,
      logger: otherRunnerLog.logger,
    });
    try {
      await Promise.all([withRunners.get('x'), withOwn.get('x')]); // connected
      await redis.kill();
      const lost = (records: LogRecord[]): boolean => records.some((record) => /lost the connection/.test(record.msg));
      await waitUntil(() => lost(runnerLog.records) && lost(storeLog.records), 10_000, 'the outage records');
      expect(runnerLog.records.find((record) => record.level === ERROR)).toMatchObject({
        where: `127.0.0.1:${redis.port}`,
      });
      expect(lost(otherRunnerLog.records)).toBe(false);
    } finally {
      await redis.restart();
      await Promise.all([withRunners.close(), withOwn.close()]);
      await redis.kill();
    }
  });
});
