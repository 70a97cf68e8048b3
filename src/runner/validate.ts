import { InvalidInputError, type InputIssue } from '../errors';
import type { StandardSchemaV1 } from '../standard-schema';
import { optionError } from '../util/validate';

/** The `input` option of `runner.define()`, checked: a Standard Schema v1 validator, or `undefined`. */
export function schemaOption(name: string, value: unknown): StandardSchemaV1 | undefined {
  if (value === undefined) return undefined;
  // arktype's types are functions, zod's and valibot's schemas objects.
  const holder = (typeof value === 'object' && value !== null) || typeof value === 'function';
  const props: unknown = holder ? Reflect.get(value, '~standard') : undefined;
  if (
    typeof props !== 'object' ||
    props === null ||
    Reflect.get(props, 'version') !== 1 ||
    typeof Reflect.get(props, 'validate') !== 'function'
  ) {
    throw optionError(name, 'a Standard Schema v1 validator (a zod 3.24+, valibot 1 or arktype 2 schema...)', value);
  }
  return value as StandardSchemaV1;
}

/**
 * Validates the input of a task of `type` with its schema: resolves with the schema's output (defaults filled,
 * transforms applied), or rejects with `InvalidInputError` and the schema's issues. A validator that throws, or
 * answers with no Standard Schema result, rejects with that error (a `TypeError` for a malformed answer): a bug of
 * the validator's, not of the input.
 */
export async function validateInput(type: string, schema: StandardSchemaV1, input: unknown): Promise<unknown> {
  const result: unknown = await schema['~standard'].validate(input);
  if (typeof result !== 'object' || result === null) {
    throw new TypeError(`koa-sse-tasks: the input schema of ${JSON.stringify(type)} answered no result object`);
  }
  const issues: unknown = Reflect.get(result, 'issues');
  if (issues !== undefined && issues !== null && issues !== false) {
    if (!Array.isArray(issues)) {
      throw new TypeError(
        `koa-sse-tasks: the input schema of ${JSON.stringify(type)} answered issues that are no array`,
      );
    }
    // Array.from, not map: a library's array subclass (arktype's ArkErrors) would make its own kind of array.
    throw new InvalidInputError(type, Array.from(issues as unknown[], issueOf));
  }
  if (!('value' in result)) {
    throw new TypeError(
      `koa-sse-tasks: the input schema of ${JSON.stringify(type)} answered neither a value nor issues`,
    );
  }
  return result.value;
}

/** An issue as the HTTP answer carries it: its message, and its path as strings and numbers. */
function issueOf(issue: unknown): InputIssue {
  const message: unknown = typeof issue === 'object' && issue !== null ? Reflect.get(issue, 'message') : undefined;
  const path: unknown = typeof issue === 'object' && issue !== null ? Reflect.get(issue, 'path') : undefined;
  return {
    message: typeof message === 'string' && message !== '' ? message : 'Invalid value',
    path: Array.isArray(path) ? Array.from(path as unknown[], segmentOf) : [],
  };
}

/** A path segment: a key, or `{ key }` unwrapped; a symbol by its description. */
function segmentOf(segment: unknown): string | number {
  const key: unknown = typeof segment === 'object' && segment !== null ? Reflect.get(segment, 'key') : segment;
  if (typeof key === 'number' || typeof key === 'string') return key;
  if (typeof key === 'symbol') return key.description ?? key.toString();
  return String(key);
}
