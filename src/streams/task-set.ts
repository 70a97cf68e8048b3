import { encodeEvent } from '../sse/encode';
import type { EventStream } from '../sse/stream';
import type { OwnedTask } from '../store/types';
import { isTerminalEvent, RESET_EVENT } from '../vocabulary';
import type { OutgoingEvent, TaskFeeds, TaskOutput } from './feeds';
import { UNREPLAYABLE } from './follower';
import { encodeSetId, OWNER_POSITION_KEY, parseSetId, withTaskId, type Positions } from './set-id';

/** One task's slot in a set: the output its follower writes to, until the task ends or the stream closes. */
interface Slot extends TaskOutput {
  readonly taskId: string;
  finished: boolean;
  leave: (() => void) | undefined;
}

/**
 * One multiplexed stream: the tasks it follows, the position of each (written into every event's id, see
 * set-id.ts), and the one response they share. Each task is followed by its own TaskFollower, so each has the
 * no-gap, no-duplicate catch-up of a single stream.
 */
export class TaskSet {
  readonly positions: Positions;
  /** True once a task of the set had a `reset`: the position the client gave for it could not be replayed from. */
  reset = false;
  readonly #stream: EventStream;
  readonly #feeds: TaskFeeds;
  /** True for `?ids=`: the stream ends once every task has ended. False for the owner feed, which stays open. */
  readonly #endWhenAllFinished: boolean;
  readonly #slots = new Map<string, Slot>();

  constructor(stream: EventStream, feeds: TaskFeeds, positions: Positions, endWhenAllFinished: boolean) {
    this.#stream = stream;
    this.#feeds = feeds;
    this.positions = positions;
    this.#endWhenAllFinished = endWhenAllFinished;
    stream.onClose(() => {
      for (const slot of this.#slots.values()) slot.leave?.();
    });
  }

  /** Runs `cleanup` when the stream closes, or at once if it already has. */
  onClose(cleanup: () => void): void {
    this.#stream.onClose(cleanup);
  }

  /**
   * Counts the task in the set at once, under `key` (its index in `ids`, or its id for the owner feed);
   * `follow(key)` then sends its events.
   */
  register(key: string, taskId: string): void {
    const stream = this.#stream;
    const slot: Slot = {
      taskId,
      finished: false,
      leave: undefined,
      get closed() {
        return stream.closed || slot.finished;
      },
      send: (event) => this.#send(key, slot, event),
      gone: () => this.#finish(key, slot),
    };
    this.#slots.set(key, slot);
    if (!this.positions.has(key)) this.positions.set(key, '');
  }

  /** Follows a registered task from the position the client gave (none: a fresh start). */
  async follow(key: string, lastEventId: string | undefined): Promise<void> {
    const slot = this.#slots.get(key)!;
    const leave = await this.#feeds.follow(slot.taskId, lastEventId, slot);
    if (slot.finished || this.#stream.closed) leave();
    else slot.leave = leave;
  }

  /** Drops a registered task that turned out not to be followable (forbidden, gone). */
  drop(key: string): void {
    this.positions.delete(key);
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.#finish(key, slot);
  }

  #send(key: string, slot: Slot, event: OutgoingEvent): void {
    const terminal = isTerminalEvent(event.event);
    // The owner feed forgets a task once it has ended (its position in the owner's index says the client saw it).
    if (terminal && !this.#endWhenAllFinished) this.positions.delete(key);
    else if (event.id !== undefined) this.positions.set(key, event.id);
    const data = withTaskId(slot.taskId, event.data);
    // An event made for this client alone (a reset, a whole output) has no id here either: no position moves.
    const id = event.id === undefined ? undefined : encodeSetId(this.positions);
    if (id === undefined && event.event === RESET_EVENT) this.reset = true;
    const frame = encodeEvent({ event: event.event, id, data });
    // Progress is idempotent: a backed-up client gets only the latest of each task.
    this.#stream.write(frame, event.event === 'progress' ? `progress:${key}` : undefined);
    if (terminal) this.#finish(key, slot);
  }

  #finish(key: string, slot: Slot): void {
    slot.finished = true;
    slot.leave?.();
    slot.leave = undefined;
    this.#slots.delete(key);
    if (this.#endWhenAllFinished && this.#slots.size === 0) this.#stream.close();
  }
}

/** Whether the caller may follow the task with this id: it exists and `authorize` allows it. */
export type Visible = (taskId: string) => Promise<boolean>;

/**
 * Fills an owner feed's set: every task of `owner` from where the client is (the positions its Last-Event-ID, `id`,
 * carries), then the tasks started later, by any process sharing the store, in the order of the owner's index. An id
 * that is not one this feed gave means a reset and a fresh start for every task. Resolves once the tasks known now
 * are followed; later ones keep coming until the stream closes. `onError` gets the failure of a task added later
 * (the caller ends the stream).
 */
export async function followOwnerTasks(
  set: TaskSet,
  feeds: TaskFeeds,
  owner: string,
  id: string | undefined,
  visible: Visible,
  onError: (error: unknown) => void,
): Promise<void> {
  let given = parseSetId(id);
  const { store } = feeds;
  /** Adds one task of the owner, in position order: `from` is where the client is, `undefined` a fresh start. */
  const add = async (task: OwnedTask, from: string | undefined): Promise<void> => {
    const latest = set.positions.get(OWNER_POSITION_KEY);
    if (latest === undefined || store.compareEventIds(task.position, latest) > 0) {
      set.positions.set(OWNER_POSITION_KEY, task.position);
    }
    set.register(task.taskId, task.taskId);
    if (await visible(task.taskId)) await set.follow(task.taskId, from || undefined);
    else set.drop(task.taskId);
  };

  const announced: OwnedTask[] = [];
  let chain: Promise<void> | undefined;
  set.onClose(
    await store.onOwnerTask(owner, (task) => {
      if (chain === undefined) return void announced.push(task);
      chain = chain.then(() => add(task, undefined)).catch(onError);
    }),
  );
  const listed = await store.tasksOf(owner);
  const last = listed.at(-1)?.position;
  const seenUpTo = given.get(OWNER_POSITION_KEY);
  // A position after the owner's latest task is not one this feed gave: the whole id is then ignored.
  const usable = seenUpTo !== undefined && last !== undefined && store.compareEventIds(seenUpTo, last) <= 0;
  if (usable) set.positions.set(OWNER_POSITION_KEY, seenUpTo);
  else given = new Map();
  const unusable = id !== undefined && !usable;
  const following: Array<Promise<void>> = [];
  for (const task of listed) {
    const from = unusable ? UNREPLAYABLE : given.get(task.taskId);
    const isNew = seenUpTo === undefined || given.size === 0 || store.compareEventIds(task.position, seenUpTo) > 0;
    if (from === undefined && !isNew) continue; // the client saw it to its end
    following.push(add(task, from));
  }
  const later = announced.filter((task) => last === undefined || store.compareEventIds(task.position, last) > 0);
  chain = Promise.all(following).then(async () => {
    for (const task of later) await add(task, undefined);
  });
  await chain;
}
