import type { Context } from 'koa';
import { queryValue } from './query';

/** The largest single-task event id looked at; a longer one cannot be ours and counts as unknown. */
export const MAX_EVENT_ID_LENGTH = 200;

/**
 * The client's last event id: the `Last-Event-ID` header, else the `lastEventId` query parameter (for clients that
 * cannot set headers). A missing, empty or over-long one is `undefined`: the client then gets a fresh start.
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
  return id === undefined || id === '' || id.length > maxLength ? undefined : id;
}
