import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { TaskError } from '../errors';

/** What `POST /tasks` accepts. */
export interface StartRequest {
  type: string;
  input?: unknown;
}

/**
 * The JSON body of a request: `ctx.request.body` when a body parser already ran, else the raw stream read up to
 * `limit` bytes. Answers 415 for a body that is not JSON, 413 over the limit and 400 for JSON that does not parse.
 */
export async function readJsonBody(ctx: Context, limit: number): Promise<unknown> {
  const parsed = (ctx.request as { body?: unknown }).body;
  if (parsed !== undefined) return parsed;
  if (!isJsonType(ctx.request.type)) {
    throw new TaskError('unsupported_media_type', 'Expected a body of type application/json');
  }
  const encoding = ctx.get('Content-Encoding').toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new TaskError('unsupported_media_type', `Unsupported Content-Encoding ${JSON.stringify(encoding)}`);
  }
  const declared = Number(ctx.get('Content-Length') || 0);
  if (declared > limit) throw tooLarge(limit);

  const text = await readText(ctx.req, limit);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TaskError('invalid_json', `The body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * `application/json` or `application/<anything>+json`. Not `ctx.is()`: it answers null for a body without
 * Content-Length or Transfer-Encoding, which is every HTTP/2 request body.
 */
function isJsonType(mime: string): boolean {
  const type = mime.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/** Checks the shape of a `POST /tasks` body: `{ "type": string, "input"?: any }`. */
export function toStartRequest(body: unknown): StartRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TaskError('invalid_body', 'Expected a JSON object like {"type": "report", "input": {...}}');
  }
  const { type, input } = body as { type?: unknown; input?: unknown };
  if (typeof type !== 'string' || type.length === 0) {
    throw new TaskError('invalid_body', 'Expected `type` to be a non-empty string naming a task type');
  }
  return { type, input };
}

/**
 * Reads the stream as UTF-8 up to `limit` bytes. Over the limit it stops keeping data but lets the rest drain
 * (destroying the request would destroy the socket, and with it the 413 answer).
 */
function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      cleanup();
      req.resume();
      reject(tooLarge(limit));
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new TaskError('bad_request', `The request body could not be read: ${error.message}`));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): TaskError {
  return new TaskError('payload_too_large', `The body is larger than the limit of ${limit} bytes`);
}
