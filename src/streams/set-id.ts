/**
 * The event ids of a multiplexed stream. Each task of the set has its own id sequence, so the id of every event
 * carries a position for every task the client follows: whatever event the browser saw last, its `Last-Event-ID`
 * resumes the whole set. The id is `application/x-www-form-urlencoded` text, `key=eventId&key=eventId...`:
 *
 * - `GET /tasks/events?ids=a,b,c`: the key is the task's index in `ids` (`0=5&1=3&2=12`); a task that has ended
 *   keeps its terminal event's id, so a resume knows it has nothing to send for it.
 * - `GET /tasks/events` (the owner feed): the key is the task id, and `_` holds the position, in the owner's index,
 *   of the latest task announced on the stream (`_=7&4b1f…=12&9c2e…=`). A task leaves the id after its terminal
 *   event; a task announced but not yet sent has an empty value. On resume, a task of the owner that is not in the
 *   id is new if its position is after `_`, and was seen to its end otherwise.
 *
 * Anything that does not parse gives no positions: every task then starts afresh with a `status` snapshot.
 */

/** The longest multiplexed Last-Event-ID looked at; a longer one is ignored (fresh snapshots, never a gap). */
export const MAX_SET_ID_LENGTH = 8192;

/** The key of the owner-index position in an owner feed's id; task ids start with a letter or digit, never `_`. */
export const OWNER_POSITION_KEY = '_';

/** Positions by key, in the order they were added: a task index or task id -> its last event id ('' for none). */
export type Positions = Map<string, string>;

export function encodeSetId(positions: Positions): string {
  return new URLSearchParams([...positions]).toString();
}

/** The positions a Last-Event-ID carries; empty for a missing or malformed one. Never throws. */
export function parseSetId(id: string | undefined): Positions {
  const positions: Positions = new Map();
  if (id === undefined || id.length > MAX_SET_ID_LENGTH || !/^[^=&]+=[^&]*(&[^=&]+=[^&]*)*$/.test(id)) {
    return positions;
  }
  for (const [key, value] of new URLSearchParams(id)) if (!positions.has(key)) positions.set(key, value);
  return positions;
}

/** The data of a task's event on a multiplexed stream: the same JSON object with `taskId` first. */
export function withTaskId(taskId: string, data: string): string {
  const id = JSON.stringify(taskId);
  if (/^\{\s*\}$/.test(data)) return `{"taskId":${id}}`;
  if (data.startsWith('{')) return `{"taskId":${id},${data.slice(1)}`;
  return `{"taskId":${id},"data":${data}}`;
}
