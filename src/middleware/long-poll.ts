import type { Context } from 'koa';
import { TaskError } from '../errors';
import type { TaskRecord } from '../store/types';
import type { TaskEvent, TaskSnapshot } from '../types';
import { hasTheEnd } from '../streams/follower';
import { PollOutput } from '../streams/outputs';
import { afterOf } from './last-event-id';
import type { Streaming } from './open-stream';
import { queryValues, quoted } from './query';

/** The longest a long-poll is held, in seconds. */
export const MAX_WAIT_SECONDS = 30;

/**
 * The answer of `GET /tasks/:id?wait=`: the task now, and the events after `after` with their data parsed (the whole
 * output of a fresh start has no `id`); `reset` when `after` was given and could not be replayed from.
 */
export interface LongPollAnswer {
  snapshot: TaskSnapshot;
  events: Array<{ id?: string; event: TaskEvent['event']; data: unknown }>;
  reset?: true;
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
  streaming: Streaming,
): Promise<void> {
  const after = afterOf(ctx);
  const taskId = record.snapshot.id;
  const output = new PollOutput();
  ctx.set('Cache-Control', 'no-store');
  if (!hasTheEnd(record, after)) {
    const leave = await streaming.feeds.follow(taskId, after, output);
    const answer = (): void => output.answer();
    const timer = setTimeout(answer, ctx.method === 'HEAD' ? 0 : waitSeconds * 1000);
    ctx.res.once('close', answer);
    streaming.polls.add(answer);
    try {
      await output.ready;
    } finally {
      output.answer();
      leave();
      clearTimeout(timer);
      ctx.res.off('close', answer);
      streaming.polls.delete(answer);
    }
  }
  const snapshot = (await streaming.feeds.store.read(taskId))?.snapshot ?? record.snapshot;
  const body: LongPollAnswer = {
    snapshot,
    events: output.events.map(({ id, event, data }) =>
      id === undefined
        ? { event, data: JSON.parse(data) as unknown }
        : { id, event, data: JSON.parse(data) as unknown },
    ),
  };
  if (output.reset) body.reset = true;
  const outcome = after === undefined || output.reset ? 'fresh' : body.events.length > 0 ? 'events' : 'timeout';
  streaming.streams.stats.longPolls[outcome]++;
  ctx.body = body;
}
