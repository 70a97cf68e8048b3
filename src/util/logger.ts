import { optionError } from './validate';

/**
 * Where the library writes what it has to say: any object with pino's shape, `level(fields, message)` (pino, and
 * bunyan, winston or console with an adapter). Records carry `err` for an error, and names of the things concerned
 * (`taskId`, `jobId`, `op`...) as fields.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The levels a `Logger` has. */
export type LogLevel = keyof Logger;

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * A store that takes the runner's logger: `new TaskRunner({ logger, store })` calls `store.useLogger(logger)` once,
 * unless the store was given a logger of its own (it then keeps that one). Optional for store authors.
 */
export interface LoggerAware {
  useLogger(logger: Logger): void;
}

/** Checks a `logger` option: `undefined`, or an object with the four levels. */
export function loggerOption(name: string, logger: unknown): Logger | undefined {
  if (logger === undefined) return undefined;
  if (
    typeof logger !== 'object' ||
    logger === null ||
    LEVELS.some((level) => typeof Reflect.get(logger, level) !== 'function')
  ) {
    throw optionError(name, 'a logger with debug(), info(), warn() and error() methods, such as pino()', logger);
  }
  return logger as Logger;
}

/**
 * What the library has always reported: to `logger[level](fields, message)`, or without a logger to `console` exactly
 * as before (`koa-sse-tasks: <message>:` and the error, or the message alone).
 */
export function logAsBefore(
  logger: Logger | undefined,
  level: 'info' | 'error',
  fields: { err?: unknown; [field: string]: unknown },
  message: string,
): void {
  if (logger !== undefined) return logger[level](fields, message);
  if (fields.err === undefined) console[level](message);
  else console[level](`${message}:`, fields.err);
}

/** Something new to tell (a shutdown step, a takeover): to the logger if there is one, else nowhere, as before. */
export function logNote(logger: Logger | undefined, level: LogLevel, fields: object, message: string): void {
  logger?.[level](fields, message);
}
