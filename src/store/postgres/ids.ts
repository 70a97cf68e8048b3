/** The PostgreSQL store's event ids: values of one sequence, as decimal text, so they increase per task and overall. */

export const EVENT_ID = /^[1-9][0-9]{0,17}$/;

/** Orders two event ids numerically; ids that are not event ids order as strings, after all event ids. */
export function compareEventIds(a: string, b: string): number {
  const [ok, okB] = [EVENT_ID.test(a), EVENT_ID.test(b)];
  if (!ok || !okB) {
    if (ok !== okB) return ok ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** Whether the event id is past `after`; `''` or `'0'` is before every event. */
export function isAfter(id: string, after: string): boolean {
  return after === '' || after === '0' || compareEventIds(id, after) > 0;
}
