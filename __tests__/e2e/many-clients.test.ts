import { startTask } from '../helpers/app';
import { startInstance, type Instance } from '../helpers/processes';
import { REDIS_URL, clientsNamed, deleteKeys, uniquePrefix } from '../helpers/redis';
import { openStream, withoutHeartbeats, type OpenStream } from '../helpers/sse';

jest.setTimeout(60_000);

const TASKS = 200;
const CLIENTS_PER_TASK = 10;

describe('an instance with 2,000 SSE clients following 200 tasks', () => {
  const keyPrefix = uniquePrefix('many');
  const connectionName = `many-${keyPrefix.split(':')[2]}`;
  const instances: Instance[] = [];
  const streams: OpenStream[] = [];
  afterAll(async () => {
    streams.forEach((stream) => stream.destroy());
    await Promise.all(instances.map((instance) => instance.stop()));
    await deleteKeys(keyPrefix);
  });

  it('holds its two Redis connections, and delivers every event to every client', async () => {
    const web = await startInstance({ ROLE: 'web', REDIS_URL, KEY_PREFIX: keyPrefix, CONNECTION_NAME: connectionName });
    instances.push(web);
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i += 50) {
      ids.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, () => startTask(web.base, 'report', { steps: 2, stepMs: 20 })),
        )),
      );
    }
    for (let round = 0; round < CLIENTS_PER_TASK; round++) {
      streams.push(...(await Promise.all(ids.map((id) => openStream(`${web.base}/tasks/${id}/events`)))));
    }
    expect(streams).toHaveLength(TASKS * CLIENTS_PER_TASK);
    expect(streams.every((stream) => stream.status === 200)).toBe(true);
    await Promise.all(streams.map((stream) => stream.waitForEvents(1, { timeoutMs: 20_000 })));
    expect((await clientsNamed(`${connectionName}:`)).sort()).toEqual([
      `${connectionName}:cmd`,
      `${connectionName}:reader`,
    ]);

    // A worker runs all 200 tasks now: every client sees its task through to `complete`.
    instances.push(await startInstance({ ROLE: 'worker', REDIS_URL, KEY_PREFIX: keyPrefix }));
    await Promise.all(streams.map((stream) => stream.ended));
    for (const stream of streams) {
      const events = withoutHeartbeats(stream.events);
      expect(events.map((e) => e.event)).toEqual(['status', 'status', 'progress', 'progress', 'complete']);
    }
    expect((await clientsNamed(`${connectionName}:`)).sort()).toEqual([
      `${connectionName}:cmd`,
      `${connectionName}:reader`,
    ]);
  });
});
