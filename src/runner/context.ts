import type { CommitLimits, TaskStore } from '../store/types';
import type { JobLimits } from './options';
import type { TaskEvent, TaskSnapshot } from '../types';
import type { Logger } from '../util/logger';

/** What `stalled` reports: the task's type, its attempt, and how long it has gone without progress. */
export interface StalledInfo {
  type: string;
  attempt: number;
  idleMs: number;
}

/**
 * What a runner lends the parts that run and maintain its tasks: its store, the limits every commit carries, and its
 * events. The parts get these few callbacks rather than the runner, so they never import it.
 */
export interface RunnerContext {
  readonly store: TaskStore;
  readonly limits: CommitLimits;
  /** How long a lease holds: how long a commit is retried while the store is unreachable. */
  readonly leaseMs: number;
  /** What one job may write and emit. */
  readonly jobLimits: JobLimits;
  /** An event reached the store, committed with `snapshot`: the runner emits `event` and tells its observers. */
  committed(taskId: string, event: TaskEvent, snapshot: TaskSnapshot): void;
  /** A job claimed here is about to run its first attempt (observers count it running). */
  began(snapshot: TaskSnapshot): void;
  /** A job that began here has freed its slot. */
  ended(snapshot: TaskSnapshot): void;
  /** The runner's `logger` option, if any. */
  readonly logger: Logger | undefined;
  /** The runner emits `stalled`. */
  stalled(taskId: string, info: StalledInfo): void;
  /** A store operation failed: the runner emits `error`, or logs it when nobody listens. */
  report(error: unknown): void;
}
