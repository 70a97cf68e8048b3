import type { Context } from 'koa';
import { UNREPLAYABLE } from '../streams/follower';
import { queryValue } from './query';

/** The largest single-task event id looked at; a longer one cannot be ours and counts as unknown. */
export const MAX_EVENT_ID_LENGTH = 200;

/**
 * The client's last event id: the `Last-Event-ID` header, else the `lastEventId` query parameter (for clients that
 * cannot set headers). A missing or empty one is `undefined` (a fresh start); an over-long one cannot be ours and
 * is `UNREPLAYABLE` (a reset, then a fresh start).
 */
export function lastEventIdOf(ctx: Context, maxLength = MAX_EVENT_ID_LENGTH): string | undefined {
  const header = ctx.get('Last-Event-ID');
  return eventIdOf(header !== '' ? header : queryValue(ctx, 'lastEventId'), maxLength);
}

/** The `after` of a long-poll: the id of the last event the client has, checked as `lastEventIdOf` checks. */
export function afterOf(ctx: Context): string | undefined {
  return eventIdOf(queryValue(ctx, 'after'), MAX_EVENT_ID_LENGTH);
}

function eventIdOf(id: string | undefined, maxLength: number): string | undefined {
  if (id === undefined || id === '') return undefined;
  return id.length > maxLength ? UNREPLAYABLE : id;
}
