/** Option checks whose errors name the option, the value and what was expected. */
import { inspect } from 'node:util';

function describe(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${inspect(value)} (${typeof value})`;
}

export function optionError(name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`koa-sse-tasks: expected \`${name}\` to be ${expected}, got ${describe(value)}`);
}

/** An integer in [min, max]; `max` defaults to the largest delay a Node timer accepts. */
export function integerOption(name: string, value: unknown, min: number, max = 2_147_483_647): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw optionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function functionOption<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw optionError(name, 'a function', value);
  return value as F;
}
