// A task streaming over HTTP from a RedisStore on a Redis Cluster while its hash slot moves to another master: the
// stream never breaks (ioredis follows ASK during the move and MOVED after), and a client resuming on a second
// instance afterwards replays from the new master, with no gap and no duplicate.
import { RedisStore } from '../../src/redis';
import { deferred, startApp, startTask, type TestApp } from '../helpers/app';
import { uniquePrefix } from '../helpers/redis';
import { startRedisCluster, type OwnCluster } from '../helpers/redis-cluster';
import { dataOf, openStream, withoutHeartbeats } from '../helpers/sse';

jest.setTimeout(60_000);

let cluster: OwnCluster;
const apps: TestApp[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 60_000);
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  await cluster?.stop();
});

it('keeps a task streaming while its slot moves to another master, and replays it from there', async () => {
  const keyPrefix = uniquePrefix('reshard');
  let moved = false;
  const steps = { after: 0 };
  const followed = deferred();
  const worker = await startApp({
    runner: { store: new RedisStore({ client: cluster.client(), keyPrefix }) },
    define: (runner) =>
      runner.define('steps', async (job) => {
        await followed.promise; // a fresh stream starts at the snapshot: steps before it would be its past
        // Steps every 10 ms until the slot has moved, then 20 more: writes run during the move, and after it.
        for (let i = 1; !moved || i <= steps.after + 20; i++) {
          job.emit('step', { i });
          if (!moved) steps.after = i;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return { steps: 'done' };
      }),
  });
  const web = await startApp({
    runner: { store: new RedisStore({ client: cluster.client(), keyPrefix }), worker: false },
    define: (runner) => runner.define('steps'),
  });
  apps.push(worker, web);

  const id = await startTask(web.base, 'steps');
  const stream = await openStream(`${web.base}/tasks/${id}/events`);
  await stream.waitForEvents(1, { timeoutMs: 10_000 });
  followed.resolve();
  await stream.waitForEvents(10, { timeoutMs: 10_000 });
  const slot = await cluster.slotOf(`{${id}}`);
  const from = await cluster.ownerOf(slot);
  const to = cluster.ports.find((port) => port !== from)!;
  await cluster.moveSlot(slot, to);
  moved = true;
  expect(await cluster.ownerOf(slot)).toBe(to);
  await stream.ended;

  const events = withoutHeartbeats(stream.events);
  const numbers = events.filter((e) => e.event === 'step').map((e) => dataOf<{ i: number }>(e).i);
  // Every step the job emitted, in order: those before the move (at least 9: the 10 events waited for are the status
  // and 9 steps; more when the move takes a while) and the 20 after it. (`>= 30` assumed a step during the move.)
  expect(steps.after).toBeGreaterThanOrEqual(9);
  expect(numbers).toEqual(Array.from({ length: steps.after + 20 }, (_, i) => i + 1));
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  expect(events.at(-1)?.event).toBe('complete');

  // A client that had seen only the first steps resumes on the other instance: the replay comes from the new master.
  const resumeFrom = events.find((e) => e.event === 'step' && dataOf<{ i: number }>(e).i === 5)!;
  const resumed = await openStream(`${worker.base}/tasks/${id}/events`, { 'Last-Event-ID': resumeFrom.id! });
  await resumed.ended;
  const replay = withoutHeartbeats(resumed.events);
  expect(replay.map((e) => e.id)).toEqual(events.slice(events.indexOf(resumeFrom) + 1).map((e) => e.id));
  expect([...web.errors, ...worker.errors]).toEqual([]);
});
