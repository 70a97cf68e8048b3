import type { Context, Next } from 'koa';
import { TaskError, type ErrorCode } from '../errors';

/**
 * The body of every error answer: `{ "error": { "code", "message" } }`, `code` one of `ERROR_CODES`, with the
 * error's `details` beside them (the `issues` of an `invalid_input`).
 */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; [detail: string]: unknown };
}

/**
 * The one place errors become HTTP answers: ours with their status, headers, code and details (every 503 and 429
 * with `Retry-After`), anything else as a 500 `internal_error` with a generic message, reported to `app.on('error')`.
 */
export function answerErrors(retryAfterSeconds: number): (ctx: Context, next: Next) => Promise<void> {
  const retryAfter = String(retryAfterSeconds);
  return async function answerTaskErrors(ctx, next) {
    try {
      await next();
    } catch (error) {
      if (error instanceof TaskError) {
        ctx.status = error.status;
        ctx.set(error.headers);
        const retry = error.status === 503 || error.status === 429;
        if (retry && !ctx.response.get('Retry-After')) ctx.set('Retry-After', retryAfter);
        ctx.body = errorBody(error.code, error.message, error.details);
      } else {
        ctx.status = 500;
        ctx.body = errorBody('internal_error', 'Internal Server Error');
        ctx.app.emit('error', error, ctx);
      }
    }
  };
}

export function errorBody(
  code: ErrorCode,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
): ErrorBody {
  // `code` and `message` first, and never replaced by a detail of the same name.
  return { error: Object.assign({ code, message }, details, { code, message }) };
}
