import { EVENT_FOR_STATUS, isFinished } from '../status';
import type { TaskRecord, TaskStore } from '../store/types';
import type { TaskEvent } from '../types';
import type { FeedSink, TaskFeeds } from './feeds';

/** Where a follower's events go: an event stream, one task's slot in a multiplexed stream, a long-poll answer. */
export interface FollowerOutput {
  /** True once nothing more is wanted; the follower then writes nothing. */
  readonly closed: boolean;
  /** One event of the task, in order. `frame` is its encoding for a single-task stream, when the fan-out made one. */
  send(event: TaskEvent, frame?: Buffer): void;
  /** The task vanished (it expired) between the request's checks and the catch-up. */
  gone(): void;
}

/**
 * One client's view of one task. Live events that arrive while it catches up are held, then sent if newer than what
 * the catch-up wrote: this is what makes a resume have no gap and no duplicate, for a stream and a long-poll alike.
 */
export class TaskFollower implements FeedSink {
  readonly #taskId: string;
  readonly #store: TaskStore;
  readonly #output: FollowerOutput;
  #held: Array<[TaskEvent, Buffer]> | undefined = [];

  constructor(taskId: string, store: TaskStore, output: FollowerOutput) {
    this.#taskId = taskId;
    this.#store = store;
    this.#output = output;
  }

  receive(event: TaskEvent, frame: Buffer): void {
    if (this.#held === undefined) this.#send(event, frame);
    else this.#held.push([event, frame]);
  }

  /**
   * Writes what the client misses: the events after `lastEventId` when the store can replay them, else a fresh
   * `status` snapshot (and, for a finished task, its terminal event); then the live events held meanwhile.
   */
  async catchUp(lastEventId: string | undefined): Promise<void> {
    const replay = lastEventId === undefined ? undefined : await this.#store.eventsAfter(this.#taskId, lastEventId);
    let lastSent: string;
    if (replay !== undefined && lastEventId !== undefined) {
      lastSent = lastEventId;
      for (const event of replay) {
        this.#send(event);
        lastSent = event.id;
      }
    } else {
      const record = await this.#store.read(this.#taskId);
      if (record === undefined) return this.#output.gone();
      lastSent = record.lastEventId;
      for (const event of snapshotEvents(record)) this.#send(event);
    }
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const [event, frame] of held) {
      if (this.#store.compareEventIds(event.id, lastSent) > 0) this.#send(event, frame);
    }
  }

  #send(event: TaskEvent, frame?: Buffer): void {
    if (!this.#output.closed) this.#output.send(event, frame);
  }
}

/** A fresh start: `status` with the id of the latest event it reflects, and for a finished task its terminal event. */
export function snapshotEvents({ snapshot, lastEventId }: TaskRecord): TaskEvent[] {
  const data = JSON.stringify(snapshot);
  const status: TaskEvent = { event: 'status', id: lastEventId, data };
  if (!isFinished(snapshot.status)) return [status];
  return [status, { event: EVENT_FOR_STATUS[snapshot.status], id: lastEventId, data }];
}

/**
 * Follows one task for `output`: joins the task's feed, then catches up from `lastEventId`. Resolves, once the
 * catch-up is written, with the function that leaves the feed.
 */
export async function follow(
  feeds: TaskFeeds,
  store: TaskStore,
  taskId: string,
  lastEventId: string | undefined,
  output: FollowerOutput,
): Promise<() => void> {
  const follower = new TaskFollower(taskId, store, output);
  const leave = await feeds.join(taskId, follower);
  try {
    if (!output.closed) await follower.catchUp(lastEventId);
  } catch (error) {
    leave();
    throw error;
  }
  return leave;
}
