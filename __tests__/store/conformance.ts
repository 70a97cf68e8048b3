import { randomUUID } from 'node:crypto';
import { describeSubmission } from './conformance-submission';
import {
  CommitConflictError,
  QueueFullError,
  RUNNER_DEFAULTS,
  TaskFinishedError,
  type CommitLimits,
  type Lease,
  type TaskSnapshot,
  type TaskStatus,
  type TaskStore,
} from '../../src';

/** What a runner passes, with a small history; the cases below change one limit at a time. */
const limits: CommitLimits = { historyLimit: 5, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 };

function snapshot(id: string, status: TaskStatus = 'running', progress = 0): TaskSnapshot {
  const now = new Date().toISOString();
  return { id, type: 'report', status, progress, outputLength: 0, createdAt: now, updatedAt: now };
}

/**
 * The behaviour every TaskStore promises; run it against each store with `describeTaskStore(name, makeStore)`. One
 * block per interface (TaskLog, JobQueue, OwnerIndex), each the contract written in that interface's TSDoc; a new
 * guarantee is a new case in its interface's block, run against every store.
 */
export function describeTaskStore(name: string, makeStore: () => TaskStore | Promise<TaskStore>): void {
  describe(`${name} (TaskStore conformance)`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('TaskLog', () => {
      async function commitProgress(id: string, count: number, historyLimit = limits.historyLimit): Promise<string[]> {
        const ids: string[] = [];
        for (let i = 1; i <= count; i++) {
          const stored = await store.commit(
            snapshot(id, 'running', i),
            { event: 'progress', data: `{"percent":${i}}` },
            { ...limits, historyLimit },
          );
          ids.push(stored.id);
        }
        return ids;
      }

      it('knows nothing of a task before its first commit', async () => {
        expect(await store.read(randomUUID())).toBeUndefined();
        expect(await store.eventsAfter(randomUUID(), '1')).toBeUndefined();
      });

      it('gives each event of a task a strictly greater id, and reads back the latest snapshot with it', async () => {
        const id = randomUUID();
        const ids = await commitProgress(id, 4);
        for (let i = 1; i < ids.length; i++) expect(store.compareEventIds(ids[i]!, ids[i - 1]!)).toBeGreaterThan(0);
        expect(store.compareEventIds(ids[0]!, ids[0]!)).toBe(0);
        const record = await store.read(id);
        expect(record?.snapshot.progress).toBe(4);
        expect(record?.lastEventId).toBe(ids[3]);
      });

      it('replays exactly the events after an id: no gap, no duplicate', async () => {
        const id = randomUUID();
        const ids = await commitProgress(id, 4);
        const after = await store.eventsAfter(id, ids[1]!);
        expect(after?.map((e) => e.id)).toEqual(ids.slice(2));
        expect(after?.map((e) => e.data)).toEqual(['{"percent":3}', '{"percent":4}']);
        expect(after?.every((e) => e.event === 'progress')).toBe(true);
        expect(await store.eventsAfter(id, ids[3]!)).toEqual([]);
      });

      it('answers undefined for an id it cannot replay from: malformed, or not issued yet', async () => {
        const id = randomUUID();
        const ids = await commitProgress(id, 2);
        for (const bad of ['', 'abc', '-1', '1.5', 'x'.repeat(300), `${ids[1]!}x`]) {
          expect(await store.eventsAfter(id, bad)).toBeUndefined();
        }
        const other = randomUUID();
        const aheadIds = await commitProgress(other, 4);
        // An id only issued for another task, beyond this task's latest.
        expect(await store.eventsAfter(id, aheadIds[3]!)).toBeUndefined();
      });

      it('keeps at most historyLimit events and refuses to replay from before them', async () => {
        const id = randomUUID();
        const ids = await commitProgress(id, 12, 5);
        // Some stores trim approximately; what is kept is never less than the limit, never a gap.
        const fromOldestKept = await store.eventsAfter(id, ids[6]!);
        expect(fromOldestKept?.map((e) => e.id)).toEqual(ids.slice(7));
        expect(await store.eventsAfter(id, ids[0]!)).toBeUndefined();
      });

      it('keeps at most maxHistoryBytes of event data, oldest dropped first, the latest always', async () => {
        const id = randomUUID();
        const ids: string[] = [];
        const hundredBytes = (i: number): string => JSON.stringify({ percent: i, pad: '' }).padEnd(100, ' ');
        for (let i = 1; i <= 10; i++) {
          const data = hundredBytes(i);
          expect(Buffer.byteLength(data)).toBe(100);
          const stored = await store.commit(
            snapshot(id, 'running', i),
            { event: 'progress', data },
            { ...limits, historyLimit: 100, maxHistoryBytes: 350 },
          );
          ids.push(stored.id);
        }
        // 350 bytes hold the three newest events: a replay from before them would have a gap.
        expect((await store.eventsAfter(id, ids[6]!))?.map((e) => e.id)).toEqual(ids.slice(7));
        expect(await store.eventsAfter(id, ids[5]!)).toBeUndefined();
        const big = await store.commit(
          snapshot(id, 'running', 11),
          { event: 'progress', data: 'y'.repeat(1000) },
          { ...limits, historyLimit: 100, maxHistoryBytes: 350 },
        );
        expect((await store.eventsAfter(id, ids[9]!))?.map((e) => e.id)).toEqual([big.id]);
        expect(await store.eventsAfter(id, ids[8]!)).toBeUndefined();
      });

      it('delivers events committed after subscribing, in order, until unsubscribed', async () => {
        const id = randomUUID();
        await commitProgress(id, 1);
        const seen: string[] = [];
        const unsubscribe = await store.subscribe(id, (event) => seen.push(event.id));
        const ids = await commitProgress(id, 3);
        await waitFor(() => seen.length === 3);
        expect(seen).toEqual(ids);
        unsubscribe();
        await commitProgress(id, 2);
        await new Promise((r) => setTimeout(r, 50));
        expect(seen).toEqual(ids);
      });

      it('delivers each event with the id of the event before it, so a subscriber can tell a gap', async () => {
        const id = randomUUID();
        const seen: Array<[string, string]> = [];
        const unsubscribe = await store.subscribe(id, (event, previousId) => seen.push([previousId, event.id]));
        const ids = await commitProgress(id, 3);
        await waitFor(() => seen.length === 3);
        expect(seen).toEqual([
          ['', ids[0]],
          [ids[0], ids[1]],
          [ids[1], ids[2]],
        ]);
        unsubscribe();
      });

      it("keeps tasks apart: a subscriber hears only its task's events", async () => {
        const [a, b] = [randomUUID(), randomUUID()];
        const seen: string[] = [];
        const unsubscribe = await store.subscribe(a, (event) => seen.push(event.data));
        await store.commit(snapshot(b), { event: 'progress', data: 'b' }, limits);
        await store.commit(snapshot(a), { event: 'progress', data: 'a' }, limits);
        await waitFor(() => seen.length === 1);
        await new Promise((r) => setTimeout(r, 20));
        expect(seen).toEqual(['a']);
        unsubscribe();
      });

      it('forgets a finished task once its TTL has passed, and only then', async () => {
        const id = randomUUID();
        await store.commit(snapshot(id), { event: 'status', data: '{}' }, limits);
        await store.commit(
          snapshot(id, 'completed', 100),
          { event: 'complete', data: '{}' },
          { ...limits, ttlMs: 200 },
        );
        expect((await store.read(id))?.snapshot.status).toBe('completed');
        await waitFor(async () => (await store.read(id)) === undefined, 3000);
        expect(await store.eventsAfter(id, '1')).toBeUndefined();
      });

      it('keeps an unfinished task regardless of the TTL', async () => {
        const id = randomUUID();
        await store.commit(snapshot(id), { event: 'status', data: '{}' }, { ...limits, ttlMs: 1 });
        await new Promise((r) => setTimeout(r, 100));
        expect((await store.read(id))?.snapshot.status).toBe('running');
      });

      it('refuses to write to a finished task, and a conditional write whose condition no longer holds', async () => {
        const id = randomUUID();
        const first = await store.commit(snapshot(id), { event: 'status', data: '{}' }, limits);
        const second = await store.commit(snapshot(id, 'running', 5), { event: 'progress', data: '{}' }, limits);
        await expect(
          store.commit(snapshot(id, 'cancelled'), { event: 'cancelled', data: '{}' }, limits, {
            ifLastEventId: first.id,
          }),
        ).rejects.toThrow(CommitConflictError);
        await store.commit(snapshot(id, 'cancelled'), { event: 'cancelled', data: '{}' }, limits, {
          ifLastEventId: second.id,
        });
        await expect(
          store.commit(snapshot(id, 'running', 9), { event: 'progress', data: '{}' }, limits),
        ).rejects.toThrow(TaskFinishedError);
        expect((await store.read(id))?.snapshot.status).toBe('cancelled');
      });

      describe('output', () => {
        const output = (id: string, offset: number, text: string): Parameters<TaskStore['commit']> => [
          { ...snapshot(id), outputLength: offset + text.length },
          { event: 'output', data: JSON.stringify({ offset, text }), appendOutput: text },
          limits,
        ];

        it('appends the output in the step that commits its event, and reads the record and the output as one', async () => {
          const id = randomUUID();
          await store.commit(snapshot(id), { event: 'status', data: '{}' }, limits);
          expect(await store.readWithOutput(id)).toMatchObject({ output: '' });
          const first = await store.commit(...output(id, 0, 'Hello, '));
          await store.commit(snapshot(id, 'running', 50), { event: 'progress', data: '{"percent":50}' }, limits);
          const last = await store.commit(...output(id, 7, 'wörld ✓'));
          const read = await store.readWithOutput(id);
          expect(read).toEqual({
            snapshot: expect.objectContaining({ outputLength: 14 }),
            lastEventId: last.id,
            output: 'Hello, wörld ✓',
          });
          expect((await store.read(id))?.lastEventId).toBe(last.id);
          // Output events are events like any other: replayed in order with the others.
          expect((await store.eventsAfter(id, first.id))?.map((e) => e.event)).toEqual(['progress', 'output']);
          expect(await store.readWithOutput(randomUUID())).toBeUndefined();
        });

        it('never shows an output that is not the one of the record it is read with, even among concurrent commits', async () => {
          const id = randomUUID();
          await store.commit(snapshot(id), { event: 'status', data: '{}' }, limits);
          let offset = 0;
          const writes: Array<Promise<unknown>> = [];
          for (let i = 0; i < 30; i++) {
            const text = `line ${i}\n`;
            writes.push(store.commit(...output(id, offset, text)));
            offset += text.length;
          }
          const reads = await Promise.all(Array.from({ length: 10 }, () => store.readWithOutput(id)));
          await Promise.all(writes);
          for (const read of reads) expect(read!.output.length).toBe(read!.snapshot.outputLength);
        });

        it('starts the output again, empty, with a commit that clears it (a retry)', async () => {
          const id = randomUUID();
          await store.commit(snapshot(id), { event: 'status', data: '{}' }, limits);
          await store.commit(...output(id, 0, 'first attempt'));
          await store.commit(snapshot(id), { event: 'status', data: '{}', clearOutput: true }, limits);
          expect((await store.readWithOutput(id))?.output).toBe('');
          await store.commit(...output(id, 0, 'second'));
          expect((await store.readWithOutput(id))?.output).toBe('second');
        });

        it('forgets the output with its task, once the TTL has passed', async () => {
          const id = randomUUID();
          await store.commit(...output(id, 0, 'kept until the TTL'));
          await store.commit(
            snapshot(id, 'completed', 100),
            { event: 'complete', data: '{}' },
            { ...limits, ttlMs: 200 },
          );
          expect((await store.readWithOutput(id))?.output).toBe('kept until the TTL');
          await waitFor(async () => (await store.readWithOutput(id)) === undefined, 3000);
        });
      });

      it('keeps custom events, whatever their name, and replays them like the others', async () => {
        const id = randomUUID();
        const first = await store.commit(snapshot(id), { event: 'status', data: '{}' }, limits);
        const custom = await store.commit(
          snapshot(id),
          { event: 'source:found', data: '{"url":"https://a.example"}' },
          limits,
        );
        const seen: string[] = [];
        const off = await store.subscribe(id, (event) => seen.push(event.event));
        await store.commit(snapshot(id), { event: 'row.rejected', data: '{"row":7}' }, limits);
        await waitFor(() => seen.length === 1);
        off();
        expect(seen).toEqual(['row.rejected']);
        const replay = await store.eventsAfter(id, first.id);
        expect(replay?.map((e) => [e.event, e.data])).toEqual([
          ['source:found', '{"url":"https://a.example"}'],
          ['row.rejected', '{"row":7}'],
        ]);
        expect(replay?.[0]?.id).toBe(custom.id);
      });

      it('tells a watcher once when the task finishes, by whoever commits it', async () => {
        const task = snapshot(randomUUID(), 'queued');
        const { id: queuedId } = await store.commit(task, { event: 'status', data: JSON.stringify(task) }, limits);
        const seen: TaskSnapshot[] = [];
        const unwatch = store.onFinished(task.id, queuedId, (finished) => seen.push(finished));
        await store.commit({ ...task, status: 'running' }, { event: 'status', data: '{}' }, limits);
        const cancelled = { ...task, status: 'cancelled' as const };
        await store.commit(cancelled, { event: 'cancelled', data: JSON.stringify(cancelled) }, limits);
        await waitFor(() => seen.length === 1);
        await new Promise((r) => setTimeout(r, 50));
        expect(seen).toEqual([cancelled]);
        unwatch();
      });
    });

    describe('JobQueue', () => {
      const lease = (holder: string, leaseMs = 60_000): Lease => ({ holder, leaseMs });
      // Task types unique to each test, so stores shared between tests never hand one test's tasks to another.
      let type: string;
      beforeEach(() => {
        type = `t${randomUUID().slice(0, 8)}`;
      });
      function queued(id = randomUUID(), taskType = type): TaskSnapshot {
        return { ...snapshot(id, 'queued'), type: taskType };
      }

      it('queues a task with its input, and hands it to exactly one claim', async () => {
        const task = queued();
        const event = await store.enqueue(task, { month: '2026-10' }, limits);
        expect(event.event).toBe('status');
        expect(JSON.parse(event.data)).toEqual(task);
        expect(await store.read(task.id)).toEqual({ snapshot: task, lastEventId: event.id });
        const [a, b] = await Promise.all([store.claim([type], lease('a')), store.claim([type], lease('b'))]);
        const claimed = a ?? b;
        expect(a === undefined || b === undefined).toBe(true);
        expect(claimed).toEqual({ snapshot: task, lastEventId: event.id, input: { month: '2026-10' } });
        expect(await store.claim([type], lease('c'))).toBeUndefined();
      });

      it('keeps the traceparent given to enqueue with the task and gives it back with the claim; none when not given', async () => {
        const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const [traced, keyed, plain] = [queued(), queued(), queued()];
        await store.enqueue(traced, null, limits, { traceparent });
        const once = { key: randomUUID().replace(/-/g, ''), fingerprint: 'f' };
        await store.enqueueOnce(keyed, null, limits, once, { traceparent: traceparent.replace('b7ad', 'c8be') });
        await store.enqueue(plain, null, limits);
        const claims = [];
        for (let i = 0; i < 3; i++) claims.push(await store.claim([type], lease('w')));
        expect(claims.map((claimed) => [claimed?.snapshot.id, claimed?.traceparent])).toEqual([
          [traced.id, traceparent],
          [keyed.id, traceparent.replace('b7ad', 'c8be')],
          [plain.id, undefined],
        ]);
        expect(claims[2]).not.toHaveProperty('traceparent');
      });

      it('claims only the types asked for, oldest first, and skips a task finished while queued', async () => {
        const other = `${type}-other`;
        const [one, two, three, four] = [queued(), queued(), queued(undefined, other), queued()];
        for (const task of [one, two, three, four]) await store.enqueue(task, null, limits);
        await store.commit({ ...two, status: 'cancelled' }, { event: 'cancelled', data: '{}' }, limits);
        expect((await store.claim([type], lease('w')))?.snapshot.id).toBe(one.id);
        expect((await store.claim([type], lease('w')))?.snapshot.id).toBe(four.id);
        expect(await store.claim([type], lease('w'))).toBeUndefined();
        expect((await store.claim([other, type], lease('w')))?.snapshot.id).toBe(three.id);
      });

      it('lets the lease holder renew, and hands an expired lease over to one reaper', async () => {
        const task = queued();
        await store.enqueue(task, null, limits);
        await store.claim([type], lease('a', 150));
        expect(await store.renew([task.id], lease('a', 150))).toEqual([]);
        expect((await store.reapExpired(lease('b'), 100)).map((r) => r.snapshot.id)).not.toContain(task.id);
        await new Promise((r) => setTimeout(r, 250));
        const reaped = await store.reapExpired(lease('b'), 100);
        expect(reaped.find((r) => r.snapshot.id === task.id)?.snapshot.status).toBe('queued');
        expect((await store.reapExpired(lease('c', 150), 100)).map((r) => r.snapshot.id)).not.toContain(task.id);
        expect(await store.renew([task.id], lease('a', 150))).toEqual([task.id]);
      });

      it('releases the lease of a task that finishes, so no reaper takes it over', async () => {
        const task = queued();
        await store.enqueue(task, null, limits);
        await store.claim([type], lease('a', 50));
        await store.commit({ ...task, status: 'completed' }, { event: 'complete', data: '{}' }, limits);
        await new Promise((r) => setTimeout(r, 120));
        expect((await store.reapExpired(lease('b'), 100)).map((r) => r.snapshot.id)).not.toContain(task.id);
        expect(await store.renew([task.id], lease('a'))).toEqual([task.id]);
      });

      it('refuses to enqueue past a bound over several types, even to concurrent enqueues, and writes nothing', async () => {
        const other = `${type}-other`;
        for (const task of [queued(undefined, other), queued(undefined, other)])
          await store.enqueue(task, null, limits);
        const bound = { types: [type, other], maxQueued: 5 };
        const tasks = Array.from({ length: 20 }, () => queued());
        const outcomes = await Promise.allSettled(tasks.map((task) => store.enqueue(task, null, limits, { bound })));
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(QueueFullError);
        }
        const written = await Promise.all(tasks.map((task) => store.read(task.id)));
        expect(written.filter((record) => record !== undefined)).toHaveLength(3);
        expect(await store.queuedCount([type, other])).toBe(5);
        // A claim makes room for one more.
        await store.claim([type], lease('w'));
        await store.enqueue(queued(), null, limits, { bound });
        await expect(store.enqueue(queued(), null, limits, { bound })).rejects.toBeInstanceOf(QueueFullError);
      });

      it('counts the queued tasks of the types asked for, until they are claimed', async () => {
        const other = `${type}-other`;
        expect(await store.queuedCount([type, other])).toBe(0);
        for (const task of [queued(), queued(), queued(undefined, other)]) await store.enqueue(task, null, limits);
        expect(await store.queuedCount([type])).toBe(2);
        expect(await store.queuedCount([type, other])).toBe(3);
        await store.claim([type], lease('w'));
        expect(await store.queuedCount([type])).toBe(1);
        expect(await store.queuedCount([])).toBe(0);
      });

      it('wakes queue listeners when a task is queued', async () => {
        let woken = 0;
        const off = await store.onQueued(() => woken++);
        await store.enqueue(queued(), null, limits);
        await waitFor(() => woken > 0);
        off();
      });

      describeSubmission(() => store);
    });

    describe('OwnerIndex', () => {
      function owned(id: string, owner: string | undefined, status: TaskStatus = 'queued'): TaskSnapshot {
        return owner === undefined ? snapshot(id, status) : { ...snapshot(id, status), owner };
      }

      it('lists the tasks first committed for an owner, oldest first, and no one else’s', async () => {
        const [me, other] = [`me-${randomUUID()}`, `other-${randomUUID()}`];
        const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
        await store.enqueue(owned(a, me), null, limits);
        await store.enqueue(owned(b, other), null, limits);
        await store.commit(owned(c, me, 'running'), { event: 'status', data: '{}' }, limits);
        await store.commit(owned(a, me, 'running'), { event: 'status', data: '{}' }, limits);
        await store.enqueue(owned(d, undefined), null, limits);
        const mine = await store.tasksOf(me);
        expect(mine.map((t) => t.taskId)).toEqual([a, c]);
        expect(store.compareEventIds(mine[1]!.position, mine[0]!.position)).toBeGreaterThan(0);
        expect((await store.tasksOf(other)).map((t) => t.taskId)).toEqual([b]);
        expect(await store.tasksOf(`nobody-${randomUUID()}`)).toEqual([]);
      });

      it("tells an owner's listeners of each task created for it later, once, in order", async () => {
        const me = `me-${randomUUID()}`;
        const before = randomUUID();
        await store.enqueue(owned(before, me), null, limits);
        const seen: Array<{ taskId: string; position: string }> = [];
        const off = await store.onOwnerTask(me, (task) => seen.push(task));
        const [x, y] = [randomUUID(), randomUUID()];
        await store.enqueue(owned(x, me), null, limits);
        await store.commit(owned(x, me, 'running'), { event: 'status', data: '{}' }, limits);
        await store.enqueue(owned(randomUUID(), `other-${randomUUID()}`), null, limits);
        await store.enqueue(owned(y, me), null, limits);
        await waitFor(() => seen.length === 2);
        await new Promise((r) => setTimeout(r, 50));
        expect(seen.map((t) => t.taskId)).toEqual([x, y]);
        const listed = await store.tasksOf(me);
        expect(listed).toEqual([expect.objectContaining({ taskId: before }), ...seen]);
        off();
        await store.enqueue(owned(randomUUID(), me), null, limits);
        await new Promise((r) => setTimeout(r, 50));
        expect(seen).toHaveLength(2);
      });

      it('leaves forgotten tasks out of the list', async () => {
        const me = `me-${randomUUID()}`;
        const [gone, kept] = [randomUUID(), randomUUID()];
        await store.enqueue(owned(gone, me), null, limits);
        await store.enqueue(owned(kept, me), null, limits);
        await store.commit(owned(gone, me, 'completed'), { event: 'complete', data: '{}' }, { ...limits, ttlMs: 100 });
        await waitFor(async () => (await store.read(gone)) === undefined, 3000);
        expect((await store.tasksOf(me)).map((t) => t.taskId)).toEqual([kept]);
      });
    });
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
