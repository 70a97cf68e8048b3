import { setImmediate } from 'node:timers';
import type { TaskEvent } from '../types';
import type { LiveFrame } from './feeds';

/** What the fan-out hands a live event to: a `TaskFollower`. */
export interface Recipient {
  receive(event: TaskEvent, frame: LiveFrame, previousId?: string): void;
}

/** A live event as the fan-out passes it on. */
type Live = [event: TaskEvent, frame: LiveFrame, previousId: string | undefined];

/**
 * How many streams get live events in one turn of the event loop. Each costs one `writev()` of its events once the
 * callback that wrote them returns (Node corks the socket until then), some 10–15 µs with the JavaScript before it:
 * 32 keep a turn under half a millisecond. A count, not a time budget: the writes happen after the callback, where
 * it cannot time them. Measured with 5,000 streams resuming at 15 events/s: 16 and 32 streams a turn recovered in
 * 5.2–5.6 s, 128 in 9.2 s, 512 in 18 s, all at once in 39 s (BENCHMARKS.md).
 */
export const SLICE = 32;

/**
 * Deliveries that may wait for later turns, a second of work or so: past it, everything waiting is delivered at
 * once, so a process that cannot keep up holds its store's reader back (as without turns) instead of queueing.
 */
const MAX_WAITING = 100_000;

/** One feed's waiting events, each follower getting them all at once: one write of them all. */
interface Batch {
  followers: Set<Recipient>;
  events: Live[];
  /** The feed's own set, read live: a follower that left is skipped, one that joined gets the events too. */
  rest: Iterator<Recipient> | undefined;
}

/**
 * Hands live events to their followers, in order, to at most {@link SLICE} streams per turn of the event loop.
 *
 * Why: since libuv 1.45 (Node 20) a listening socket accepts one connection per turn of the event loop. Writing
 * each event to 5,000 streams in one callback took ~60 ms, so a process busy with a running job accepted some 17
 * connections a second: when an instance died, the streams that came to this one waited up to 40 s in its accept
 * queue (BENCHMARKS.md, "Across instances"). Short turns let connections, timers and requests in between.
 *
 * Events that wait join their feed's batch, and a follower gets a whole batch at once, so a burst costs one syscall
 * per stream, not one per event: under load, fewer than writing each event to every stream at once. Each follower gets its task's events
 * in order; one it already has, or one that comes late, it handles itself (follower.ts).
 */
export class FanOut {
  readonly #onError: (error: unknown) => void;
  /** Batches not delivered yet, from `#head` on (an index, not `shift()`: a burst may queue thousands). */
  #queue: Batch[] = [];
  #head = 0;
  /** Each feed's batch that no follower has had yet: the feed's next events join it. */
  readonly #open = new Map<Set<Recipient>, Batch>();
  /** Streams given events in this turn, and deliveries waiting (an upper bound: followers may leave). */
  #spent = 0;
  #waiting = 0;
  #turn: NodeJS.Immediate | undefined;
  /** True while batches are delivered: a delivery that causes another queues it behind. */
  #draining = false;

  /** `onError` is told of a follower that threw; the others still get the event. */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** Gives `event` to each of `followers`: now if this turn has room for all of them, else in the next turns. */
  deliver(followers: Set<Recipient>, event: TaskEvent, frame: LiveFrame, previousId?: string): void {
    const live: Live = [event, frame, previousId];
    if (this.#head === this.#queue.length && !this.#draining && this.#spent + followers.size <= SLICE) {
      this.#spent += followers.size;
      for (const follower of followers) this.#give(follower, live);
    } else {
      this.#waiting += followers.size;
      const open = this.#open.get(followers);
      if (open !== undefined) {
        open.events.push(live);
      } else {
        const batch: Batch = { followers, events: [live], rest: undefined };
        this.#queue.push(batch);
        this.#open.set(followers, batch);
      }
      if (this.#waiting > MAX_WAITING && !this.#draining) this.#drain(Infinity);
    }
    // The real setImmediate (node:timers), not one a test's fake timers replaced: events must keep flowing.
    if (this.#turn === undefined) this.#turn = setImmediate(() => this.#nextTurn());
  }

  #nextTurn(): void {
    this.#turn = undefined;
    this.#spent = 0;
    this.#drain(SLICE);
    if (this.#head < this.#queue.length) this.#turn = setImmediate(() => this.#nextTurn());
  }

  /** Delivers waiting batches, oldest first, until this turn has given events to `budget` streams. */
  #drain(budget: number): void {
    this.#draining = true;
    try {
      this.#drainUpTo(budget);
    } finally {
      this.#draining = false;
    }
  }

  #drainUpTo(budget: number): void {
    const queue = this.#queue;
    for (let batch = queue[this.#head]; batch !== undefined; batch = queue[++this.#head]) {
      if (batch.rest === undefined) {
        this.#open.delete(batch.followers); // started: the feed's next events make a new batch
        batch.rest = batch.followers.values();
      }
      const { rest, events } = batch;
      for (;;) {
        if (this.#spent >= budget) return;
        const next = rest.next();
        if (next.done === true) break;
        this.#spent++;
        this.#waiting -= events.length;
        for (const live of events) this.#give(next.value, live);
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.#waiting = 0;
  }

  #give(follower: Recipient, [event, frame, previousId]: Live): void {
    try {
      follower.receive(event, frame, previousId);
    } catch (error) {
      this.#onError(error);
    }
  }
}
