import type { Context } from 'koa';
import { TaskError } from '../errors';
import { IDEMPOTENCY_KEY } from '../runner/idempotency';

/** The header of the IETF draft (draft-ietf-httpapi-idempotency-key-header), and the one that marks a replay. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/**
 * The request's `Idempotency-Key`, or `undefined` without one. Any other value, an empty one or the header given
 * twice (Node joins repeats with `, `) included, is a 400 `invalid_idempotency_key`. The key is never echoed back.
 */
export function idempotencyKeyOf(ctx: Context): string | undefined {
  // Not ctx.get(), which answers '' both for an empty header and for none.
  const value: unknown = ctx.req.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw new TaskError(
      'invalid_idempotency_key',
      'Expected one Idempotency-Key header of 1 to 255 characters from 0x21 to 0x7E (visible ASCII, no space)',
    );
  }
  return value;
}
