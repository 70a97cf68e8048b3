/**
 * The streaming engine: how a task's events travel from its store to the clients that follow it.
 *
 *   store.subscribe(task) ─▶ TaskFeeds ─▶ FanOut ─▶ TaskFollower ─▶ TaskOutput
 *
 * - `TaskFeeds` holds one store subscription per followed task, however many clients follow it, and encodes each
 *   live event once: the same bytes (a {@link LiveFrame}) go to every single-task stream, a slice of followers per
 *   turn of the event loop (fan-out.ts).
 * - A `TaskFollower` is one client's view of one task: it catches up (the replay after the client's last id, or a
 *   fresh start), then passes live events on, with no gap and no duplicate (follower.ts).
 * - A `TaskOutput` is where that view goes: a single-task stream, one task's slot in a multiplexed stream
 *   (task-set.ts), or a long-poll answer.
 *
 * Nothing here knows Koa: the middleware opens the responses and hands them in.
 */
import { encodeEvent } from '../sse/encode';
import type { TaskStore } from '../store/types';
import type { TaskEvent } from '../types';
import { FanOut } from './fan-out';
import { TaskFollower, WholeOutput } from './follower';

/**
 * A live event's frame: encoded once by the fan-out, and written as is to every single-task stream (a backed-up
 * client may have it coalesced). Events read from the store for a catch-up (a replay, a fresh start) come without
 * one: the output encodes them itself, and never coalesces them, since they are exactly what the client asked for.
 */
export type LiveFrame = Buffer;

/**
 * An event as a follower sends it: a stored event, with its id, or one made for this client alone, without an id
 * (a `reset`, the whole output of a fresh start), so it never repeats an id and a resume goes on from the last id.
 */
export type OutgoingEvent = TaskEvent | { id?: undefined; event: string; data: string };

/** Where one client's view of one task goes. */
export interface TaskOutput {
  /** True once nothing more is wanted; the follower then writes nothing. */
  readonly closed: boolean;
  /** One event of the task, in order: with its `LiveFrame` when live, without for a catch-up event. */
  send(event: OutgoingEvent, live?: LiveFrame): void;
  /** The task vanished (it expired) between the request's checks and the catch-up. */
  gone(): void;
}

interface Feed {
  followers: Set<TaskFollower>;
  subscribed: Promise<() => void>;
  whole: WholeOutput;
}

/** The fan-out: one store subscription per followed task, released when the task's last follower leaves. */
export class TaskFeeds {
  readonly store: TaskStore;
  /**
   * The store's comparison, bound once: a follower compares every live event, and going through `runner.store`'s
   * proxy each time cost ~140 ns a call (a microbenchmark), some 4% of the CPU of a delivered event in the fan-out.
   */
  readonly #compare: TaskStore['compareEventIds'];
  readonly #feeds = new Map<string, Feed>();
  readonly #fanOut: FanOut;

  /** `onError` is told of a follower that threw on a live event (a defect: the others still get it). */
  constructor(store: TaskStore, onError: (error: unknown) => void) {
    this.store = store;
    this.#compare = store.compareEventIds.bind(store);
    this.#fanOut = new FanOut(onError);
  }

  /**
   * Follows one task for `output`: joins the task's feed, then catches up from `lastEventId` (none: a fresh start).
   * Resolves, once the catch-up is written, with the function that leaves the feed.
   */
  async follow(taskId: string, lastEventId: string | undefined, output: TaskOutput): Promise<() => void> {
    const feed = this.#feeds.get(taskId) ?? this.#open(taskId);
    const follower = new TaskFollower(taskId, this.store, output, this.#compare, feed.whole);
    const leave = await this.#join(taskId, feed, follower);
    try {
      if (!output.closed) await follower.catchUp(lastEventId);
    } catch (error) {
      leave();
      throw error;
    }
    return leave;
  }

  /** Adds `follower` to the task's feed; resolves, once events flow, with the function that removes it. */
  async #join(taskId: string, feed: Feed, follower: TaskFollower): Promise<() => void> {
    feed.followers.add(follower);
    try {
      await feed.subscribed;
    } catch (error) {
      feed.followers.delete(follower);
      throw error;
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#leave(taskId, feed, follower);
    };
  }

  #open(taskId: string): Feed {
    const followers = new Set<TaskFollower>();
    const subscribed = this.store.subscribe(taskId, (event, previousId) => {
      const frame: LiveFrame = Buffer.from(encodeEvent(event));
      this.#fanOut.deliver(followers, event, frame, previousId);
    });
    const feed: Feed = { followers, subscribed, whole: new WholeOutput() };
    this.#feeds.set(taskId, feed);
    subscribed.catch(() => {
      if (this.#feeds.get(taskId) === feed) this.#feeds.delete(taskId);
    });
    return feed;
  }

  #leave(taskId: string, feed: Feed, follower: TaskFollower): void {
    feed.followers.delete(follower);
    if (feed.followers.size > 0) return;
    if (this.#feeds.get(taskId) === feed) this.#feeds.delete(taskId);
    feed.subscribed.then(
      (unsubscribe) => unsubscribe(),
      () => {},
    );
  }
}
