import { createHash } from 'node:crypto';
import { TaskError } from '../errors';
import type { IdempotencyKey } from '../store/types';

/** An idempotency key as the header draft and `runner.start()` take it: 1 to 255 characters from 0x21 to 0x7E. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * What the store keeps for `runner.start(..., { idempotencyKey, owner })`: the key scoped to its owner, and the
 * fingerprint of the request, both digests. Keys of different owners never collide (the owner is part of the
 * digest), and the key itself is stored nowhere, so it cannot leak from the store into a log.
 */
export function idempotencyKeyOf(key: string, owner: string | undefined, type: string, input: unknown): IdempotencyKey {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new TaskError(
      'invalid_idempotency_key',
      'Expected `idempotencyKey` to be 1 to 255 characters from 0x21 to 0x7E (visible ASCII, no space)',
    );
  }
  return {
    key: digest(JSON.stringify([owner ?? null, key])),
    fingerprint: digest(canonicalJson({ type, input })),
  };
}

/** The JSON text of a value with every object's keys in order: equal for equal JSON values, whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    // fromEntries defines own properties: a `__proto__` key of a parsed body stays a key.
    return Object.fromEntries(
      Object.keys(item)
        .sort()
        .map((key) => [key, (item as Record<string, unknown>)[key]]),
    );
  });
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
