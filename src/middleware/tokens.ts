import { createHmac, timingSafeEqual } from 'node:crypto';
import { TaskError } from '../errors';
import { integerOption, optionError } from '../util/validate';

/** What a stream token lets its bearer read: one task, some tasks, or every task of one owner. */
export type TokenScope = { taskId: string } | { taskIds: readonly string[] } | { owner: string };

/** Options of `tasks.streamToken()`. */
export interface StreamTokenOptions {
  /** How long the token is accepted, in ms (a stream opened with it outlives it). @default 300_000 (5 min) */
  ttlMs?: number;
}

export const STREAM_TOKEN_DEFAULTS = { ttlMs: 300_000 } as const;

/** The shortest secret accepted: 32 characters, the HMAC-SHA256 key size a guess cannot reach. */
const MIN_SECRET_LENGTH = 32;
/** The longest token looked at: 100 task ids of 128 characters, encoded, fit. */
export const MAX_TOKEN_LENGTH = 24_576;

interface Payload {
  /** Expiry, in ms since the epoch. */
  e: number;
  t?: string;
  ts?: string[];
  o?: string;
}

/**
 * Signed, stateless stream tokens: `<payload>.<signature>`, both base64url, the signature an HMAC-SHA256 of the
 * payload with the first secret, checked in constant time against every secret (rotation: put the new secret
 * first, keep the old one until its tokens have expired). Every instance that shares the secrets accepts them.
 */
export class StreamTokens {
  readonly #secrets: readonly string[];

  constructor(secrets: readonly string[]) {
    this.#secrets = secrets;
  }

  sign(scope: TokenScope, { ttlMs = STREAM_TOKEN_DEFAULTS.ttlMs }: StreamTokenOptions = {}): string {
    const payload: Payload = { e: Date.now() + integerOption('ttlMs', ttlMs, 1, 31 * 24 * 3_600_000) };
    if ('taskId' in scope && typeof scope.taskId === 'string') payload.t = scope.taskId;
    else if (
      'taskIds' in scope &&
      Array.isArray(scope.taskIds) &&
      scope.taskIds.every((id) => typeof id === 'string')
    ) {
      payload.ts = [...scope.taskIds];
    } else if ('owner' in scope && typeof scope.owner === 'string') payload.o = scope.owner;
    else throw optionError('scope', '{ taskId }, { taskIds } or { owner }', scope);
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.#mac(this.#secrets[0]!, body).toString('base64url')}`;
  }

  /** The scope of a token this server signed and that has not expired; else a 403 `invalid_token` or `token_expired`. */
  verify(token: string): TokenScope {
    if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw invalid('malformed');
    const dot = token.indexOf('.');
    const body = token.slice(0, dot);
    const signature = Buffer.from(token.slice(dot + 1), 'base64url');
    if (!this.#secrets.some((secret) => safeEqual(this.#mac(secret, body), signature)))
      throw invalid('not signed here');
    const payload = parse(body);
    if (payload === undefined) throw invalid('malformed');
    if (payload.e <= Date.now()) {
      throw new TaskError('token_expired', 'The stream token has expired: ask the app for a new one');
    }
    if (payload.t !== undefined) return { taskId: payload.t };
    if (payload.ts !== undefined) return { taskIds: payload.ts };
    return { owner: payload.o! };
  }

  #mac(secret: string, body: string): Buffer {
    return createHmac('sha256', secret).update(body).digest();
  }
}

/** `secret` as the middleware option takes it: a string of 32 characters or more, or a non-empty list of them. */
export function resolveSecrets(secret: unknown): string[] | undefined {
  if (secret === undefined) return undefined;
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (
    !Array.isArray(secrets) ||
    secrets.length === 0 ||
    !secrets.every((s) => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH)
  ) {
    throw optionError(
      'secret',
      `a string of at least ${MIN_SECRET_LENGTH} characters, or a list of them (the first signs, all verify)`,
      secret,
    );
  }
  return secrets as string[];
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function parse(body: string): Payload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { e, t, ts, o } = value as Record<string, unknown>;
  const scopes = [t, ts, o].filter((s) => s !== undefined).length;
  const valid =
    typeof e === 'number' &&
    scopes === 1 &&
    (t === undefined || typeof t === 'string') &&
    (o === undefined || typeof o === 'string') &&
    (ts === undefined || (Array.isArray(ts) && ts.every((id) => typeof id === 'string')));
  return valid ? (value as Payload) : undefined;
}

function invalid(why: string): TaskError {
  return new TaskError('invalid_token', `The stream token is not valid here (${why})`);
}
