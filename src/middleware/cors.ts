import cors, { type Options as KoaCorsOptions } from '@koa/cors';
import type { Context, Middleware } from 'koa';
import { optionError } from '../util/validate';
import { IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER } from './idempotency';

/**
 * `@koa/cors` options, where `origin` may also be an allow-list: the request's `Origin` is answered only when listed
 * (an unlisted origin gets no CORS header, so the browser refuses it).
 */
export type CorsOptions = Omit<KoaCorsOptions, 'origin'> & { origin?: KoaCorsOptions['origin'] | readonly string[] };

/**
 * The CORS middleware for every response under the prefix: `Location` and `Idempotent-Replayed` always exposed, and
 * `Idempotency-Key` allowed in preflights (`@koa/cors` allows what a preflight asks for unless `allowHeaders` is
 * given; then it is added to them). Refuses `credentials`
 * without an explicit origin: `@koa/cors` would then reflect any origin, letting every site read the user's tasks.
 */
export function corsMiddleware(options: CorsOptions): Middleware {
  const { origin, credentials } = options;
  if (credentials !== undefined && credentials !== false && (origin === undefined || origin === '*')) {
    throw optionError(
      'cors.origin',
      "an origin ('https://app.example'), a list of origins or a function when `credentials` is set " +
        '(without one, any site could read the tasks of a signed-in user)',
      origin,
    );
  }
  let resolved: KoaCorsOptions['origin'];
  if (Array.isArray(origin)) {
    const listed = new Set<string>();
    for (const entry of origin as readonly unknown[]) {
      if (typeof entry !== 'string' || entry === '*' || entry === '') {
        throw optionError('cors.origin', "a list of origins such as ['https://app.example']", origin);
      }
      listed.add(entry);
    }
    resolved = (ctx: Context) => (listed.has(ctx.get('Origin')) ? ctx.get('Origin') : '');
  } else {
    resolved = origin as KoaCorsOptions['origin'];
  }
  const exposeHeaders = [...headerList(options.exposeHeaders), 'Location', REPLAYED_HEADER];
  const allowed = options.allowHeaders;
  const allowHeaders = allowed === undefined ? undefined : [...headerList(allowed), IDEMPOTENCY_KEY_HEADER];
  return cors({ ...options, origin: resolved, exposeHeaders, ...(allowHeaders === undefined ? {} : { allowHeaders }) });
}

function headerList(headers: string | string[] | undefined): string[] {
  if (headers === undefined) return [];
  return Array.isArray(headers) ? headers : headers.split(',').map((header) => header.trim());
}
