// Type tests, compiled by `npm run typecheck`: `runner.define(type, handler, { input })` types `job.input` as the
// schema's output, and misuse does not compile (each @ts-expect-error must meet an error, or tsc fails).
/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call -- the lines that must not compile */
import type { StandardSchemaV1 as Spec } from '@standard-schema/spec';
import { type } from 'arktype';
import * as v from 'valibot';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { TaskRunner, type StandardSchemaV1 } from '../../src';

/** Compiles only when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

const runner = new TaskRunner();
const report = z.object({ month: z.string(), report: z.enum(['daily', 'weekly']).default('daily') });

// The output, defaults filled: `report` is no longer optional.
runner.define(
  'report',
  (job) => {
    expectType<Equal<typeof job.input, { month: string; report: 'daily' | 'weekly' }>>();
    return job.input.month.length;
  },
  { input: report, timeoutMs: 1000 },
);

// A transform's output.
runner.define(
  'count',
  (job) => {
    expectType<Equal<typeof job.input, number>>();
    return job.input + 1;
  },
  { input: z.string().transform((text) => text.length) },
);

// zod 3, valibot and arktype infer as well.
runner.define('zod3', (job) => (expectType<Equal<typeof job.input, { a: number }>>(), job.input), {
  input: z3.object({ a: z3.number() }),
});
runner.define('valibot', (job) => (expectType<Equal<typeof job.input, { a: number; b: string }>>(), job.input), {
  input: v.object({ a: v.number(), b: v.optional(v.string(), 'x') }),
});
runner.define('arktype', (job) => (expectType<Equal<typeof job.input, { a: number }>>(), job.input), {
  input: type({ a: 'number' }),
});

// Without a schema, the handler says what it takes, as before.
runner.define('plain', (job: { input: { n: number } }) => job.input.n);

// A worker: false runner declares a type with its schema and no handler.
new TaskRunner({ worker: false }).define('report', { input: report });

// @ts-expect-error: the schema's output has no `year`.
runner.define('report', (job) => job.input.year, { input: report });

// @ts-expect-error: a handler typed for another input than the schema outputs.
runner.define('report', (job: { input: { month: number } }) => job.input.month, { input: report });

// @ts-expect-error: `month` is a string, not a number.
runner.define('report', (job) => job.input.month.toFixed(), { input: report });

// @ts-expect-error: not a Standard Schema.
runner.define('report', (job) => job.input, { input: { parse: (value: unknown) => value } });

// @ts-expect-error: a declaration takes a schema, nothing else in its place.
runner.define('report', { input: 'month' });

// The copy of the spec's interface is interchangeable with the spec's own, both ways.
declare const ours: StandardSchemaV1<string, number>;
declare const theirs: Spec<string, number>;
export const asTheirs: Spec<string, number> = ours;
export const asOurs: StandardSchemaV1<string, number> = theirs;
expectType<Equal<StandardSchemaV1.InferOutput<typeof report>, Spec.InferOutput<typeof report>>>();
