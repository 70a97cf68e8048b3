/**
 * The NOTIFY payloads of the store's channel, kept small (far below NOTIFY's 8 KB): they only say what to read again
 * from the tables, which hold every event. Nothing depends on one arriving: a listener that reconnects reads again.
 * - `e <event id> <1 if terminal, else 0> <task id>`: an event was committed to the task;
 * - `o <hash of the owner>`: a task was created for an owner;
 * - `q`: a task was queued.
 * The writes send them with `pg_notify()` in their transaction: PostgreSQL delivers them when (and only if) it commits.
 */
import { createHash } from 'node:crypto';

export type Notice =
  | { kind: 'event'; taskId: string; eventId: string; terminal: boolean }
  | { kind: 'owner'; hash: string }
  | { kind: 'queued' };

/** A short digest of an owner, so the payload stays small whatever its length. */
export function ownerHash(owner: string): string {
  return createHash('sha1').update(owner).digest('base64url').slice(0, 12);
}

export function parseNotice(payload: string): Notice | undefined {
  if (payload === 'q') return { kind: 'queued' };
  if (payload.startsWith('o ')) return { kind: 'owner', hash: payload.slice(2) };
  const match = /^e ([0-9]+) ([01]) (.+)$/s.exec(payload);
  if (match === null) return undefined;
  return { kind: 'event', eventId: match[1]!, terminal: match[2] === '1', taskId: match[3]! };
}
