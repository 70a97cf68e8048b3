// A commit that fails because the store is unreachable is tried again, for at most leaseMs: never after, since by
// then the lease may belong to another runner. (The PostgreSQL restart test saw the old last try at 1.55 s of a 1 s
// lease succeed once the server was back, and the task completed instead of failing.)
import { MemoryStore, RUNNER_DEFAULTS, StoreUnavailableError, type TaskSnapshot } from '../../src';
import type { RunnerContext } from '../../src/runner/context';
import { RetriedCommits } from '../../src/runner/commit-retry';

const UNFAKED = ['nextTick', 'setImmediate', 'queueMicrotask'] as const;

/** A memory store whose commits fail as if its server were down, while `down`; it notes when each was tried. */
class DownStore extends MemoryStore {
  down = true;
  readonly tries: number[] = [];
  override async commit(...args: Parameters<MemoryStore['commit']>): ReturnType<MemoryStore['commit']> {
    this.tries.push(Date.now());
    if (this.down) throw new StoreUnavailableError('the store is unreachable');
    return super.commit(...args);
  }
}

function contextOf(store: DownStore, leaseMs: number, reported: unknown[]): RunnerContext {
  // Only what RetriedCommits reads: the store, the limits, the lease and `report`.
  return {
    store,
    limits: { historyLimit: 100, maxHistoryBytes: RUNNER_DEFAULTS.maxHistoryBytes, ttlMs: 60_000 },
    leaseMs,
    report: (error: unknown) => void reported.push(error),
  } as Partial<RunnerContext> as RunnerContext;
}

const now = new Date().toISOString();
const snapshot: TaskSnapshot = {
  id: 't1',
  type: 'report',
  status: 'running',
  progress: 1,
  outputLength: 0,
  createdAt: now,
  updatedAt: now,
};

describe('RetriedCommits', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: [...UNFAKED] }));
  afterEach(() => jest.useRealTimers());

  it('tries again until leaseMs after the first failure, the last try at leaseMs, then gives up', async () => {
    const store = new DownStore();
    const reported: unknown[] = [];
    const commits = new RetriedCommits(contextOf(store, 1000, reported));
    const outcome = commits.commit(snapshot, { event: 'progress', data: '{"percent":1}' }).catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(1000);
    store.down = false; // back just after the lease: too late for this task
    await jest.advanceTimersByTimeAsync(1000);
    const first = store.tries[0]!;
    expect(store.tries.map((at) => at - first)).toEqual([0, 50, 150, 350, 750, 1000]);
    expect(await outcome).toBeInstanceOf(StoreUnavailableError);
    expect(reported).toHaveLength(1);
    // The task's later commits fail at once, without a try.
    await expect(commits.commit(snapshot, { event: 'progress', data: '{"percent":2}' })).rejects.toThrow(
      StoreUnavailableError,
    );
    expect(store.tries).toHaveLength(6);
  });

  it('succeeds when the store is back within leaseMs, and reports the outage once', async () => {
    const store = new DownStore();
    const reported: unknown[] = [];
    const commits = new RetriedCommits(contextOf(store, 1000, reported));
    const outcome = commits.commit(snapshot, { event: 'progress', data: '{"percent":1}' });
    await jest.advanceTimersByTimeAsync(200);
    store.down = false;
    await jest.advanceTimersByTimeAsync(200);
    await expect(outcome).resolves.toMatchObject({ event: 'progress' });
    expect(reported).toHaveLength(1);
  });
});
