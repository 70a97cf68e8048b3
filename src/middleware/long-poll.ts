import type { Context } from 'koa';
import { TaskError } from '../errors';
import { isFinished, isTerminalEvent } from '../status';
import type { TaskRecord } from '../store/types';
import type { TaskEvent, TaskSnapshot } from '../types';
import { MAX_EVENT_ID_LENGTH, type EventsContext } from './events';
import { follow } from './follower';
import { queryValue, queryValues, quoted } from './query';

/** The longest a long-poll is held, in seconds. */
export const MAX_WAIT_SECONDS = 30;

/** The answer of `GET /tasks/:id?wait=`: the task now, and the events after `after` with their data parsed. */
export interface LongPollAnswer {
  snapshot: TaskSnapshot;
  events: Array<{ id: string; event: TaskEvent['event']; data: unknown }>;
}

/**
 * `wait` in seconds, when the request asks for a long-poll, capped at 30 (a longer wait is served as 30: proxies
 * cut idle requests); 400 when it is not a non-negative decimal number.
 */
export function waitOf(ctx: Context): number | undefined {
  const [raw, again] = queryValues(ctx, 'wait');
  if (raw === undefined) return undefined;
  if (again !== undefined || !/^\d{1,9}(\.\d{1,3})?$/.test(raw)) {
    throw new TaskError(
      'invalid_wait',
      400,
      `Expected \`wait\` to be a number of seconds, once, at most ${MAX_WAIT_SECONDS} counted, got ${quoted(raw)}`,
    );
  }
  return Math.min(Number(raw), MAX_WAIT_SECONDS);
}

/**
 * `GET /tasks/:id?wait=<s>&after=<event id>`: the events a stream resumed from `after` would carry, as JSON. They
 * are the events after `after` when the store can replay them, else a fresh `status` (the terminal event alone, for
 * a finished task), exactly as on a stream. When there is none yet, the request is held until one is committed or
 * `wait` seconds pass (then `events` is `[]`). A client that passes the last id it got as the next `after` loses
 * nothing.
 */
export async function serveLongPoll(
  ctx: Context,
  record: TaskRecord,
  waitSeconds: number,
  deps: EventsContext,
): Promise<void> {
  const query = queryValue(ctx, 'after');
  const after = query !== undefined && query !== '' && query.length <= MAX_EVENT_ID_LENGTH ? query : undefined;
  const taskId = record.snapshot.id;
  const events: TaskEvent[] = [];
  ctx.set('Cache-Control', 'no-store');
  if (!(isFinished(record.snapshot.status) && after === record.lastEventId)) {
    let answer!: () => void;
    const ready = new Promise<void>((resolve) => (answer = resolve));
    let done = false;
    const output = {
      get closed() {
        return done;
      },
      send(event: TaskEvent) {
        events.push(event);
        // Let the events committed in the same tick join this answer; a terminal event is the last anyway.
        if (isTerminalEvent(event.event)) answer();
        else setImmediate(answer);
      },
      gone: () => answer(),
    };
    const leave = await follow(deps.feeds, deps.store, taskId, after, output);
    const timer = setTimeout(answer, ctx.method === 'HEAD' ? 0 : waitSeconds * 1000);
    ctx.res.once('close', answer);
    deps.polls.add(answer);
    try {
      if (events.length === 0) await ready;
    } finally {
      done = true;
      leave();
      clearTimeout(timer);
      ctx.res.off('close', answer);
      deps.polls.delete(answer);
    }
  }
  const snapshot = (await deps.store.read(taskId))?.snapshot ?? record.snapshot;
  const body: LongPollAnswer = {
    snapshot,
    events: events.map(({ id, event, data }) => ({ id, event, data: JSON.parse(data) as unknown })),
  };
  ctx.body = body;
}
