import { randomUUID } from 'node:crypto';
import type { TaskSnapshot, TaskStatus, TaskStore } from '../../src';

const limits = { historyLimit: 5, ttlMs: 60_000 };

function snapshot(id: string, status: TaskStatus = 'running', progress = 0): TaskSnapshot {
  const now = new Date().toISOString();
  return { id, type: 'report', status, progress, createdAt: now, updatedAt: now };
}

/** The behaviour every TaskStore promises; run it against each store with `describeTaskStore(name, makeStore)`. */
export function describeTaskStore(name: string, makeStore: () => TaskStore | Promise<TaskStore>): void {
  describe(`${name} (TaskStore conformance)`, () => {
    let store: TaskStore;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

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
      await store.commit(snapshot(id, 'completed', 100), { event: 'complete', data: '{}' }, { ...limits, ttlMs: 200 });
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
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
