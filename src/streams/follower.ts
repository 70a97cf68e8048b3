import type { TaskRecord, TaskRecordWithOutput, TaskStore } from '../store/types';
import type { TaskEvent } from '../types';
import { EVENT_FOR_STATUS, isFinished, OUTPUT_EVENT, RESET_EVENT } from '../vocabulary';
import type { LiveFrame, OutgoingEvent, TaskOutput } from './feeds';

/**
 * One client's view of one task (see feeds.ts for the whole chain). Live events that arrive while it catches up are
 * held, then written if newer than what the catch-up wrote: this is what makes a resume have no gap and no
 * duplicate, for a stream and a long-poll alike.
 *
 * The same two rules hold for every live event afterwards, because a shared feed may lag behind what this follower
 * already wrote (Redis reads live events on another connection than the catch-up): an event not newer than the last
 * one written is dropped, and an event whose predecessor is not the last one written (events trimmed from the
 * history before the feed read them) makes the follower catch up again from where it is, never skip silently.
 */
export class TaskFollower {
  readonly #taskId: string;
  readonly #store: TaskStore;
  /** `store.compareEventIds`, taken once: it runs for every live event, and `runner.store` is a proxy. */
  readonly #compare: TaskStore['compareEventIds'];
  readonly #output: TaskOutput;
  /** Live events that arrived while a catch-up runs; `undefined` when none runs. */
  #held: Array<[TaskEvent, LiveFrame, string | undefined]> | undefined = [];
  /** The last fresh start's output event of this task, shared by the followers of its feed. */
  readonly #whole: WholeOutput;
  /** The id of the last event written to the output. */
  #lastSent: string | undefined;

  constructor(
    taskId: string,
    store: TaskStore,
    output: TaskOutput,
    compare: TaskStore['compareEventIds'],
    whole: WholeOutput,
  ) {
    this.#taskId = taskId;
    this.#store = store;
    this.#compare = compare;
    this.#output = output;
    this.#whole = whole;
  }

  /** A live event from the task's feed, with the id of the event before it. */
  receive(event: TaskEvent, frame: LiveFrame, previousId?: string): void {
    if (this.#held !== undefined) this.#held.push([event, frame, previousId]);
    else this.#live(event, frame, previousId);
  }

  /**
   * Writes what the client misses: the events after `lastEventId` when the store can replay them, else a fresh
   * start (`freshStart`); then the live events held meanwhile.
   */
  async catchUp(lastEventId: string | undefined): Promise<void> {
    this.#held ??= [];
    const replay = lastEventId === undefined ? undefined : await this.#store.eventsAfter(this.#taskId, lastEventId);
    if (replay !== undefined && lastEventId !== undefined) {
      this.#lastSent = lastEventId;
      for (const event of replay) this.#send(event);
    } else {
      const record = await this.#store.readWithOutput(this.#taskId);
      if (record === undefined) return this.#output.gone();
      // A position that cannot be replayed from: the client is told, so it rebuilds what it built from events.
      if (lastEventId !== undefined) this.#send(RESET);
      for (const event of freshStart(record, this.#whole)) this.#send(event);
    }
    const held = this.#held;
    this.#held = undefined;
    // A gap found among them starts a new catch-up, which then holds the rest.
    for (const [event, frame, previousId] of held) this.receive(event, frame, previousId);
  }

  #live(event: TaskEvent, frame: LiveFrame, previousId: string | undefined): void {
    const lastSent = this.#lastSent;
    if (lastSent !== undefined && this.#compare(event.id, lastSent) <= 0) return;
    if (previousId === undefined || lastSent === undefined || previousId === lastSent) {
      return this.#send(event, frame);
    }
    // Events between the last one written and this one never reached the feed: catch up again, holding this one.
    // A store that fails that read ends the output: a stream's client then resumes from what it has.
    this.#held = [[event, frame, previousId]];
    this.catchUp(lastSent).catch(() => this.#output.gone());
  }

  #send(event: OutgoingEvent, frame?: LiveFrame): void {
    if (event.id !== undefined) this.#lastSent = event.id;
    if (!this.#output.closed) this.#output.send(event, frame);
  }
}

/**
 * A position no store issues (every store's ids are digits): following from it is a reset and a fresh start. What
 * a client gave that cannot be read as a position (too long, malformed) becomes this, so it gets a `reset` too.
 */
export const UNREPLAYABLE = '-';

/** The `reset` that opens a catch-up from a position the store cannot replay from. */
const RESET: OutgoingEvent = { event: RESET_EVENT, data: '{}' };

/**
 * A fresh start: the `status` snapshot with the id of the latest event it reflects, then the whole output so far as
 * one `output` event without an id (offset 0); for a finished task, the output, then its terminal event alone (whose
 * data is the same final snapshot). No two events of a response share an id, and a resume from the snapshot's id
 * replays only what came after.
 */
export function freshStart(
  { snapshot, lastEventId, output }: TaskRecordWithOutput,
  whole: WholeOutput,
): OutgoingEvent[] {
  const snapshotEvent: OutgoingEvent = {
    event: EVENT_FOR_STATUS[snapshot.status],
    id: lastEventId,
    data: JSON.stringify(snapshot),
  };
  if (output === '') return [snapshotEvent];
  const outputEvent = whole.eventOf(output);
  return isFinished(snapshot.status) ? [outputEvent, snapshotEvent] : [snapshotEvent, outputEvent];
}

/**
 * The `output` event of a task's fresh start, kept for the next one: a thousand clients joining a task with a
 * megabyte of output would each serialize the same megabyte. One per feed, so it goes with the task's last follower.
 * Comparing the same string is a pointer check; an equal copy (a shared store reads a new one) a memcmp, still far
 * cheaper than JSON.stringify.
 */
export class WholeOutput {
  #output: string | undefined;
  #event: OutgoingEvent | undefined;

  /** The `output` event (offset 0, no id) of a fresh start whose output is `output`. */
  eventOf(output: string): OutgoingEvent {
    if (this.#event === undefined || this.#output !== output) {
      this.#output = output;
      this.#event = { event: OUTPUT_EVENT, data: JSON.stringify({ offset: 0, text: output }) };
    }
    return this.#event;
  }
}

/** Whether a client whose last event is `lastEventId` already has the task's end: it gets 204, which stops EventSource. */
export function hasTheEnd(record: TaskRecord, lastEventId: string | undefined): boolean {
  return isFinished(record.snapshot.status) && lastEventId === record.lastEventId;
}
