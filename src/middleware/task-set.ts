import type { Context } from 'koa';
import { encodeEvent } from '../sse/encode';
import { setEventStreamHeaders, type EventStream } from '../sse/stream';
import { isFinished, isTerminalEvent } from '../status';
import type { OwnedTask, TaskRecord } from '../store/types';
import type { TaskEvent } from '../types';
import { lastEventIdOf, openTrackedStream, type EventsContext } from './events';
import { follow, type FollowerOutput } from './follower';
import { encodeSetId, MAX_SET_ID_LENGTH, OWNER_POSITION_KEY, parseSetId, withTaskId, type Positions } from './set-id';

/** Whether the caller may follow the task with this id: it exists and `authorize` allows it. */
export type Visible = (taskId: string) => Promise<boolean>;

interface Member {
  finished: boolean;
  leave: (() => void) | undefined;
}

/**
 * One multiplexed stream: the tasks it follows, the position of each (written into every event's id, see
 * set-id.ts), and the one response they share. Each task is followed by its own TaskFollower, so each has the
 * no-gap, no-duplicate catch-up of a single stream.
 */
class TaskSet {
  readonly positions: Positions;
  readonly #stream: EventStream;
  readonly #deps: EventsContext;
  /** True for `?ids=`: the stream ends once every task has ended. False for the owner feed, which stays open. */
  readonly #endWhenAllFinished: boolean;
  readonly #members = new Map<string, Member>();

  constructor(stream: EventStream, deps: EventsContext, positions: Positions, endWhenAllFinished: boolean) {
    this.#stream = stream;
    this.#deps = deps;
    this.positions = positions;
    this.#endWhenAllFinished = endWhenAllFinished;
    stream.onClose(() => {
      for (const member of this.#members.values()) member.leave?.();
    });
  }

  /** Counts the task in the set at once; `follow()` then starts sending its events. */
  register(key: string): void {
    this.#members.set(key, { finished: false, leave: undefined });
    if (!this.positions.has(key)) this.positions.set(key, '');
  }

  /** Follows a registered task from the position the client gave (none: a fresh `status`). */
  async follow(key: string, taskId: string, lastEventId: string | undefined): Promise<void> {
    const member = this.#members.get(key)!;
    const stream = this.#stream;
    const output: FollowerOutput = {
      get closed() {
        return stream.closed || member.finished;
      },
      send: (event) => this.#send(key, taskId, member, event),
      gone: () => this.#finish(key, member),
    };
    const leave = await follow(this.#deps.feeds, this.#deps.store, taskId, lastEventId, output);
    if (member.finished || stream.closed) leave();
    else member.leave = leave;
  }

  /** Drops a registered task that turned out not to be followable (forbidden, gone). */
  drop(key: string): void {
    this.positions.delete(key);
    const member = this.#members.get(key);
    if (member !== undefined) this.#finish(key, member);
  }

  #send(key: string, taskId: string, member: Member, event: TaskEvent): void {
    const terminal = isTerminalEvent(event.event);
    // The owner feed forgets a task once it has ended (its position in the owner's index says the client saw it).
    if (terminal && !this.#endWhenAllFinished) this.positions.delete(key);
    else this.positions.set(key, event.id);
    const data = withTaskId(taskId, event.data);
    const frame = encodeEvent({ event: event.event, id: encodeSetId(this.positions), data });
    // Progress is idempotent: a backed-up client gets only the latest of each task.
    this.#stream.write(frame, event.event === 'progress' ? `progress:${key}` : undefined);
    if (terminal) this.#finish(key, member);
  }

  #finish(key: string, member: Member): void {
    member.finished = true;
    member.leave?.();
    member.leave = undefined;
    this.#members.delete(key);
    if (this.#endWhenAllFinished && this.#members.size === 0) this.#stream.close();
  }
}

/**
 * `GET /tasks/events?ids=a,b,c`, every task already found and authorized (in `ids` order). A client that has every
 * task's terminal event gets 204; any other gets one stream for the set, which ends once every task has ended.
 */
export async function serveTaskSet(ctx: Context, records: TaskRecord[], deps: EventsContext): Promise<void> {
  const given = parseSetId(lastEventIdOf(ctx, MAX_SET_ID_LENGTH));
  const tasks = records.map((record, index) => {
    const key = String(index);
    const last = given.get(key) || undefined;
    const seen = isFinished(record.snapshot.status) && last === record.lastEventId;
    return { key, taskId: record.snapshot.id, last, seen };
  });
  if (tasks.every((task) => task.seen)) {
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'HEAD') return setEventStreamHeaders(ctx);

  const open = tasks.filter((task) => !task.seen);
  const stream = openTrackedStream(
    ctx,
    deps,
    open.map((task) => task.taskId),
  );
  const positions: Positions = new Map();
  for (const task of tasks) if (task.seen) positions.set(task.key, task.last!);
  const set = new TaskSet(stream, deps, positions, true);
  for (const task of open) set.register(task.key);
  await run(ctx, stream, () => Promise.all(open.map((task) => set.follow(task.key, task.taskId, task.last))));
}

/**
 * `GET /tasks/events`: every task of `owner`, those started later included (by any process sharing the store).
 * The stream stays open until the client leaves or `close()`.
 */
export async function serveOwnerFeed(
  ctx: Context,
  owner: string,
  visible: Visible,
  deps: EventsContext,
): Promise<void> {
  if (ctx.method === 'HEAD') return setEventStreamHeaders(ctx);
  let given = parseSetId(lastEventIdOf(ctx, MAX_SET_ID_LENGTH));
  const stream = openTrackedStream(ctx, deps, []);
  const set = new TaskSet(stream, deps, new Map(), false);
  const { store } = deps;

  /** Adds one task of the owner, in position order: `from` is where the client is, `undefined` a fresh start. */
  const add = async (task: OwnedTask, from: string | undefined): Promise<void> => {
    const latest = set.positions.get(OWNER_POSITION_KEY);
    if (latest === undefined || store.compareEventIds(task.position, latest) > 0) {
      set.positions.set(OWNER_POSITION_KEY, task.position);
    }
    set.register(task.taskId);
    if (await visible(task.taskId)) await set.follow(task.taskId, task.taskId, from || undefined);
    else set.drop(task.taskId);
  };

  await run(ctx, stream, async () => {
    const announced: OwnedTask[] = [];
    let chain: Promise<void> | undefined;
    stream.onClose(
      await store.onOwnerTask(owner, (task) => {
        if (chain === undefined) return void announced.push(task);
        chain = chain.then(() => add(task, undefined)).catch((error: unknown) => fail(ctx, stream, error));
      }),
    );
    const listed = await store.tasksOf(owner);
    const last = listed.at(-1)?.position;
    const seenUpTo = given.get(OWNER_POSITION_KEY);
    // A position after the owner's latest task is not one this feed gave: the whole id is then ignored.
    if (seenUpTo === undefined || last === undefined || !(store.compareEventIds(seenUpTo, last) <= 0)) {
      given = new Map();
    } else {
      set.positions.set(OWNER_POSITION_KEY, seenUpTo);
    }
    const following: Array<Promise<void>> = [];
    for (const task of listed) {
      const from = given.get(task.taskId);
      const isNew = seenUpTo === undefined || given.size === 0 || store.compareEventIds(task.position, seenUpTo) > 0;
      if (from === undefined && !isNew) continue; // the client saw it to its end
      following.push(add(task, from));
    }
    const later = announced.filter((task) => last === undefined || store.compareEventIds(task.position, last) > 0);
    chain = Promise.all(following).then(async () => {
      for (const task of later) await add(task, undefined);
    });
    await chain;
  });
}

/** Runs the set's start; a failure ends the stream and is reported, as for a single stream. */
async function run(ctx: Context, stream: EventStream, start: () => Promise<unknown>): Promise<void> {
  try {
    await start();
  } catch (error) {
    fail(ctx, stream, error);
  }
}

function fail(ctx: Context, stream: EventStream, error: unknown): void {
  if (stream.closed) return;
  stream.close();
  ctx.app.emit('error', error, ctx);
}
