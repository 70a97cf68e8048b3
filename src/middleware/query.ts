import type { Context } from 'koa';

/**
 * The values of one query parameter, at most the first two (a second means it was given more than once), read from
 * `ctx.querystring` in one pass. Never `ctx.query`: Koa 3 builds it in time that grows with the square of the number
 * of parameters (8,000 of them, `?a&a&a…`, 16 KB inside Node's header limit, held the event loop for 0.5 to 1.7 s),
 * and caches the object on the request, which an open stream would keep alive.
 */
export function queryValues(ctx: Context, name: string): string[] {
  const query = ctx.querystring;
  const values: string[] = [];
  for (let start = 0; start < query.length && values.length < 2;) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    // Each search stays inside its own parameter, so the pass is linear in the length of the query string.
    const pair = query.slice(start, end);
    const equals = pair.indexOf('=');
    if (decode(equals === -1 ? pair : pair.slice(0, equals)) === name) {
      values.push(equals === -1 ? '' : decode(pair.slice(equals + 1)));
    }
    start = end + 1;
  }
  return values;
}

/** One parameter given once, or `undefined` when it is missing or repeated (callers that must refuse a repeat use `queryValues`). */
export function queryValue(ctx: Context, name: string): string | undefined {
  const [value, again] = queryValues(ctx, name);
  return again === undefined ? value : undefined;
}

/** `application/x-www-form-urlencoded` decoding; malformed percent-escapes are kept as they are, like Node's querystring. */
function decode(text: string): string {
  if (!text.includes('%') && !text.includes('+')) return text;
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** A parameter's value as an error message shows it: JSON, cut after 100 characters (a value may be 16 KB long). */
export function quoted(value: string): string {
  return value.length <= 100 ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, 100))}…`;
}
