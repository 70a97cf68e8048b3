import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import pino from 'pino';
import { bridgeBullMQ } from '../../src/bullmq';
import { RedisStore } from '../../src/redis';
import { waitUntil } from '../helpers/app';
import { REDIS_URL, deleteKeys, uniquePrefix } from '../helpers/redis';

jest.setTimeout(30_000);

describe("the BullMQ bridge's logger", () => {
  it('gets an event the bridge could not record, with the job id and the error', async () => {
    const records: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line));
        done();
      },
    });
    const logger = pino(destination);
    const keyPrefix = uniquePrefix('bridge-logger');
    const bullPrefix = uniquePrefix('bull').slice(0, -1);
    const connection = { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379), maxRetriesPerRequest: null };
    // A store that can no longer reach Redis: every read and commit of the bridge fails.
    const store = new RedisStore({ url: REDIS_URL, keyPrefix, logger });
    await store.close();
    const bridge = bridgeBullMQ({ store, queueName: 'logged', connection, prefix: bullPrefix, logger });
    const queue = new Queue('logged', { connection, prefix: bullPrefix });
    try {
      await bridge.ready;
      await new Promise((resolve) => setTimeout(resolve, 300)); // QueueEvents reads from "now"
      const job = await queue.add('report', {});
      const id = job.id!;
      await waitUntil(() => records.some((record) => record.jobId === id), 10_000, 'the record of the failed event');
      expect(records.find((record) => record.jobId === id)).toMatchObject({
        level: 50,
        msg: `koa-sse-tasks: the BullMQ bridge could not record an event of job ${id}`,
        err: { type: 'Error' },
      });
    } finally {
      await queue.close();
      await bridge.close();
      await deleteKeys(bullPrefix);
    }
  });
});
