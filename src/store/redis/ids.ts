/** Redis stream entry ids (`<ms>-<seq>`), which are also the SSE ids of a Redis store's events. */

export const STREAM_ID = /^[0-9]{1,20}-[0-9]{1,20}$/;

/** Orders two stream ids; ids that are not stream ids order as strings, after all stream ids. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = split(a);
  const [bm, bs] = split(b);
  if (am === undefined || bm === undefined) {
    if (am !== bm) return am === undefined ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return am !== bm ? (am < bm ? -1 : 1) : as < bs ? -1 : as > bs ? 1 : 0;
}

function split(id: string): [bigint, bigint] | [undefined, undefined] {
  if (!STREAM_ID.test(id)) return [undefined, undefined];
  const dash = id.indexOf('-');
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}
