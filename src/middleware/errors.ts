import type { Context, Next } from 'koa';
import { TaskError, type ErrorCode } from '../errors';

/** The body of every error answer: `{ "error": { "code", "message" } }`, `code` one of `ERROR_CODES`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/**
 * The one place errors become HTTP answers: ours with their status, headers and code (every 503 with
 * `Retry-After`), anything else as a 500 `internal_error` with a generic message, reported to `app.on('error')`.
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
        if (error.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', retryAfter);
        ctx.body = errorBody(error.code, error.message);
      } else {
        ctx.status = 500;
        ctx.body = errorBody('internal_error', 'Internal Server Error');
        ctx.app.emit('error', error, ctx);
      }
    }
  };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
