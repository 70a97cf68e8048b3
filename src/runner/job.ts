import type { Job, JsonObject } from '../types';
import { optionError } from '../util/validate';
import { CUSTOM_EVENT_NAME, RESERVED_EVENTS } from '../vocabulary';
import { messageOf } from './attempt';
import type { JobLimits } from './options';

/** What a job's methods do once their arguments are checked; each is ignored by the task once it has finished. */
export interface JobActions {
  progress(percent: number, message: string | undefined): void;
  write(text: string): void;
  /** `data` is the event's JSON, already checked. */
  emit(name: string, data: string): void;
}

/** What a job is besides its methods. */
export type JobFacts = Pick<Job, 'id' | 'type' | 'input' | 'attempt' | 'signal'>;

/**
 * The `job` a handler receives: its facts, and methods that check their arguments (a `TypeError` or `RangeError`
 * that names the value and the rule) before the task's actions run.
 */
export function createJob(facts: JobFacts, actions: JobActions, limits: JobLimits): Job {
  return {
    ...facts,
    progress(percent: number, message?: string): void {
      if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
        throw new RangeError(
          `koa-sse-tasks: expected \`percent\` to be a finite number from 0 to 100, got ${String(percent)} (${typeof percent})`,
        );
      }
      if (message !== undefined && typeof message !== 'string') throw optionError('message', 'a string', message);
      actions.progress(percent, message);
    },
    write(text: string): void {
      if (typeof text !== 'string') throw optionError('text of job.write()', 'a string', text);
      actions.write(text);
    },
    emit(name: string, data: JsonObject): void {
      actions.emit(checkName(name), checkData(name, data, limits.maxEventBytes));
    },
  };
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !CUSTOM_EVENT_NAME.test(name)) {
    throw optionError('name of job.emit()', '1 to 64 characters: a letter, then letters, digits or _ . : -', name);
  }
  if (RESERVED_EVENTS.includes(name)) {
    throw optionError(
      'name of job.emit()',
      `a name the stream does not use itself (not ${RESERVED_EVENTS.join(', ')})`,
      name,
    );
  }
  return name;
}

/** The event's JSON: a plain object, JSON-serializable, without `taskId`, at most `maxBytes` of UTF-8. */
function checkData(name: string, data: unknown, maxBytes: number): string {
  const what = `data of job.emit(${JSON.stringify(name)})`;
  const prototype = typeof data === 'object' && data !== null ? (Object.getPrototypeOf(data) as unknown) : undefined;
  if (prototype !== Object.prototype && prototype !== null) throw optionError(what, 'a plain object', data);
  if (Object.hasOwn(data as object, 'taskId')) {
    throw optionError(what, 'an object without a `taskId` key (the multiplexed streams add that one)', data);
  }
  let json: string;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(`koa-sse-tasks: expected \`${what}\` to be JSON-serializable: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) {
    throw new RangeError(`koa-sse-tasks: \`${what}\` is ${bytes} bytes of JSON, more than maxEventBytes (${maxBytes})`);
  }
  return json;
}
