import { StoreUnavailableError, TaskFinishedError } from '../errors';
import { EVENT_FOR_STATUS, isFinished, OUTPUT_EVENT } from '../vocabulary';
import type { ClaimedTask, NewTaskEvent } from '../store/types';
import type { FinishedStatus, Job, TaskEvent, TaskHandler, TaskSnapshot } from '../types';
import { backoff, messageOf, runAttempt, watchStall, type ResolvedTaskTypeOptions, type StallWatch } from './attempt';
import { RetriedCommits } from './commit-retry';
import type { RunnerContext } from './context';
import { createJob } from './job';
import { OutputBuffer } from './output';
import { traceAttempt } from './tracing';

/** A task type this runner runs: its handler, with the options given to `define()`. */
export interface TaskDefinition {
  handler: TaskHandler;
  options: ResolvedTaskTypeOptions;
}

/** Whoever holds the running tasks (the runner's `JobClaimer`): told when one is done with, and when its slot is free. */
export interface TaskHolder {
  /** The task is finished and no longer watched: drop it, unless another task of that id took its place. */
  forget(task: LocalTask): void;
  /** The job has returned (or was never started): its slot is free. */
  settled(): void;
}

/** A task this runner claimed and runs until it finishes. */
export class LocalTask {
  readonly #context: RunnerContext;
  readonly #holder: TaskHolder;
  #snapshot: TaskSnapshot;
  readonly #input: unknown;
  readonly #definition: TaskDefinition;
  readonly #lastEventId: string;
  /** The trace the task was started in (the store's `traceparent`): each attempt's span continues it. */
  readonly #traceparent: string | undefined;
  /** The id of the last event this task committed here (or was claimed at): each commit names it as its predecessor. */
  #previousId: string;
  /** The current attempt (1, 2...): progress from an earlier, timed-out attempt is ignored. */
  #attempt = 1;
  /** Behind the current attempt's `job.signal`. */
  #controller = new AbortController();
  #stall: StallWatch = watchStall(undefined, () => {});
  /** The current attempt's output: a retry starts with an empty one. */
  #output: OutputBuffer;
  /** The chain of this task's commits, so its events reach the store in the order they happened. */
  #writes: Promise<unknown> = Promise.resolve();
  /** Stops watching for the task finishing elsewhere (a cancel from another instance, a takeover). */
  #unwatch: () => void = () => {};
  #done: Promise<unknown> = Promise.resolve();
  readonly #commits: RetriedCommits;

  constructor(context: RunnerContext, holder: TaskHolder, claimed: ClaimedTask, definition: TaskDefinition) {
    this.#context = context;
    this.#commits = new RetriedCommits(context);
    this.#holder = holder;
    this.#snapshot = Object.freeze(claimed.snapshot);
    this.#input = claimed.input;
    this.#lastEventId = claimed.lastEventId;
    this.#traceparent = claimed.traceparent;
    this.#previousId = claimed.lastEventId;
    this.#definition = definition;
    this.#output = this.#outputOf(1);
  }

  get snapshot(): TaskSnapshot {
    return this.#snapshot;
  }

  /** Settles once the job has returned (or was never started) and its slot is free. */
  get done(): Promise<unknown> {
    return this.#done;
  }

  /** Settles once every commit made so far has been tried. */
  get writes(): Promise<unknown> {
    return this.#writes;
  }

  /** Marks the task `running` and runs its attempts; `holder.settled()` follows the job's end. */
  start(): void {
    const snapshot = this.#snapshot;
    this.#context.began(snapshot);
    this.#unwatch = this.#context.store.onFinished(snapshot.id, this.#lastEventId, (finished) =>
      this.abandon(finished),
    );
    const running: TaskSnapshot = { ...snapshot, status: 'running', updatedAt: new Date().toISOString() };
    this.#done = this.#commit(running, 'status', JSON.stringify(running))
      .then(
        // Whatever escapes the attempts still ends the task: a task is never left running by its own failure.
        () => this.#attempts().catch((error: unknown) => this.finish('failed', { message: messageOf(error) })),
        () => {},
      )
      .finally(() => {
        this.#forget();
        this.#context.ended(this.#snapshot);
        this.#holder.settled();
      })
      .catch(() => {}); // finish() reports its own failures
  }

  /** Aborts the current attempt's `job.signal` (or the wait before the next one). */
  abort(message: string): void {
    this.#controller.abort(new DOMException(message, 'AbortError'));
  }

  /** Moves the task to a finished status once; later calls (a handler returning after its cancel) change nothing. */
  finish(status: FinishedStatus, error?: { message: string }, result?: unknown): Promise<unknown> {
    if (isFinished(this.#snapshot.status)) return this.#writes;
    this.#output.flush(); // what the job wrote comes before its end
    let next: TaskSnapshot = { ...this.#snapshot, status, updatedAt: new Date().toISOString() };
    if (status === 'completed') Object.assign(next, { progress: 100, result });
    if (error !== undefined) next.error = error;
    let data: string;
    try {
      data = JSON.stringify(next);
    } catch (cause) {
      next = { ...this.#snapshot, status: 'failed', updatedAt: next.updatedAt };
      next.error = { message: `The task's result is not JSON-serializable: ${messageOf(cause)}` };
      data = JSON.stringify(next);
    }
    const committed = this.#commit(next, EVENT_FOR_STATUS[next.status], data);
    return committed.finally(() => this.#forget()).catch(() => {});
  }

  /**
   * Gives the task up because another hand finished it (a cancel from another instance) or took it over (its lease
   * was lost): aborts its job and stops writing, committing nothing. `finished` is the snapshot that finished it,
   * when known.
   */
  abandon(finished: TaskSnapshot | undefined, reason?: string): void {
    if (isFinished(this.#snapshot.status)) return;
    this.#snapshot = Object.freeze(finished ?? { ...this.#snapshot, status: 'failed' });
    const message =
      this.#snapshot.status === 'cancelled' ? 'The task was cancelled' : (reason ?? 'The task finished elsewhere');
    this.abort(message);
    this.#forget();
  }

  /**
   * Runs the attempts of the task until one succeeds, the retries run out, or the task finishes by another hand
   * (cancel, close). A retry runs here, under the same lease, after a `status` event that announces it.
   */
  async #attempts(): Promise<unknown> {
    const { handler, options } = this.#definition;
    const { retries, backoffMs, stallMs } = options;
    const attempts = retries + 1;
    for (;;) {
      if (isFinished(this.#snapshot.status)) return undefined; // cancelled before it started, or while waiting
      const attempt = this.#attempt;
      const controller = this.#controller;
      const { id, type } = this.#snapshot;
      this.#stall = watchStall(stallMs, (idleMs) => this.#context.stalled(id, { type, attempt, idleMs }));
      const job = this.#job(attempt);
      const traced = { id, type, attempt, traceparent: this.#traceparent };
      const run = () => runAttempt({ handler, job, controller, options });
      const outcome = await traceAttempt(traced, run, () => this.#snapshot).finally(() => this.#stall.stop());
      if (isFinished(this.#snapshot.status)) return undefined;
      if (outcome.ok) return this.finish('completed', undefined, outcome.result);
      if (attempt >= attempts) return this.finish('failed', { message: outcome.message });
      this.#output.flush();
      this.#attempt = attempt + 1;
      this.#controller = new AbortController(); // a cancel or close from now on aborts the wait and the next attempt
      this.#output = this.#outputOf(this.#attempt);
      const retrying: TaskSnapshot = {
        ...this.#snapshot,
        attempt: this.#attempt,
        message: `Retrying (${this.#attempt}/${attempts}) after: ${outcome.message}`,
        outputLength: 0,
        updatedAt: new Date().toISOString(),
      };
      void this.#commit(retrying, 'status', JSON.stringify(retrying), { clearOutput: true }).catch(() => {});
      await backoff(backoffMs * 2 ** (attempt - 1), this.#controller.signal);
    }
  }

  #job(attempt: number): Job {
    const { id, type } = this.#snapshot;
    const live = (): boolean => !isFinished(this.#snapshot.status) && this.#attempt === attempt;
    const facts = { id, type, input: this.#input, attempt, signal: this.#controller.signal };
    return createJob(
      facts,
      {
        progress: (percent, message) => {
          if (!live()) return;
          this.#output.flush();
          this.#stall.progressed();
          const next: TaskSnapshot = { ...this.#snapshot, progress: percent, updatedAt: new Date().toISOString() };
          if (message !== undefined) next.message = message;
          const data = JSON.stringify(message === undefined ? { percent } : { percent, message });
          void this.#commit(next, 'progress', data).catch(() => {});
        },
        write: (text) => {
          if (live()) this.#output.write(text);
        },
        emit: (name, data) => {
          if (!live()) return;
          this.#output.flush();
          void this.#commit({ ...this.#snapshot, updatedAt: new Date().toISOString() }, name, data).catch(() => {});
        },
      },
      this.#context.jobLimits,
    );
  }

  /** An attempt's output, whose turns become `output` events while the attempt is the current one. */
  #outputOf(attempt: number): OutputBuffer {
    return new OutputBuffer(this.#context.jobLimits.maxOutputBytes, (text, offset) => {
      if (isFinished(this.#snapshot.status) || this.#attempt !== attempt) return;
      const next: TaskSnapshot = {
        ...this.#snapshot,
        outputLength: offset + text.length,
        updatedAt: new Date().toISOString(),
      };
      const data = JSON.stringify({ offset, text });
      void this.#commit(next, OUTPUT_EVENT, data, { appendOutput: text }).catch(() => {});
    });
  }

  #forget(): void {
    if (!isFinished(this.#snapshot.status)) return;
    this.#unwatch();
    this.#holder.forget(this);
  }

  /** Appends one change to the task's chain of writes; resolves with the stored event. */
  #commit(
    next: TaskSnapshot,
    event: TaskEvent['event'],
    data: string,
    output: Pick<NewTaskEvent, 'appendOutput' | 'clearOutput'> = {},
  ): Promise<TaskEvent> {
    this.#snapshot = Object.freeze(next);
    const write = this.#writes.then(async () => {
      const change: NewTaskEvent = { event, data, previousId: this.#previousId, ...output };
      const stored = await this.#commits.commit(next, change);
      this.#previousId = stored.id;
      this.#context.committed(next.id, stored, next);
      return stored;
    });
    this.#writes = write.catch((error: unknown) => {
      // Finished elsewhere (a cancel from another instance won the race): this runner's later writes are moot.
      if (error instanceof TaskFinishedError) this.abandon(undefined);
      // Unreachable for longer than the lease (reported once already): the task is given up, as if taken over.
      else if (error instanceof StoreUnavailableError) this.abandon(undefined, 'The store was unreachable');
      else this.#context.report(error);
    });
    return write;
  }
}
