// The `report` task: its input schema (`reportInput`, checked at the door: a bad input is a 400, never a job), and its
// job, which "queries" deterministic fake sales for a month, renders a CSV and writes it to `reportsDir`. Every wait
// listens to `job.signal`, so a cancel stops the job within a tick.
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/** The report kinds the page offers, and the header line of their CSV. */
export const REPORT_KINDS = {
  'daily-sales': { title: 'Daily sales', header: 'date,orders,revenue' },
  'weekly-sales': { title: 'Weekly sales', header: 'week_start,orders,revenue' },
};

/** The only file names `/reports/` serves: the ids the runner issues (UUIDs), with `.csv`. */
export const REPORT_FILE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.csv$/;

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
/** The fake sales database starts here; earlier months have no data. */
const FIRST_MONTH = '2020-01';

/**
 * The input of a `report`: `{ month: 'YYYY-MM', report?: 'daily-sales' | 'weekly-sales', fail?: boolean }`, with
 * data from January 2020 to this month. zod, because it is the validator most apps already have, and it speaks the
 * Standard Schema that `runner.define(type, handler, { input })` takes: its issues name the field (`path`), which the
 * page shows next to it. Its output, defaults filled, is what the job gets.
 */
/** A month with sales data: from January 2020 to this month. */
export const month = z
  .string({ error: 'Choose a month' })
  .min(1, { error: 'Choose a month', abort: true })
  .regex(MONTH, { error: 'Expected a month as YYYY-MM, e.g. "2024-02"', abort: true })
  .refine((month) => month >= FIRST_MONTH, 'No sales data before January 2020: the records start then')
  .refine((month) => month <= new Date().toISOString().slice(0, 7), 'No sales data yet: that month is to come');

export const reportInput = z.object({
  month,
  report: z.enum(Object.keys(REPORT_KINDS), { error: 'Expected daily-sales or weekly-sales' }).default('daily-sales'),
  fail: z.boolean({ error: 'Expected true or false' }).default(false),
});

/**
 * The handler of the `report` task type; its input is `reportInput`'s output. Result: `{ url, rows, month, report,
 * orders, revenue }`.
 */
export function reportJob({ reportsDir, stepDelayMs }) {
  return async function report(job) {
    const { month, report: kind, fail } = job.input;
    const step = (name, from, to) => runStep(job, name, from, to, stepDelayMs);

    await step('Querying sales', 0, 35);
    const days = salesForMonth(month);

    await step('Aggregating', 35, 60);
    // The job's output: a log line per day it aggregates, which the page shows as it comes.
    for (const day of days) job.write(`${day.date}: ${day.orders} orders, $${day.revenue.toFixed(2)}\n`);
    if (fail) throw new Error('Simulated failure: the sales database stopped answering while aggregating');
    const rows = kind === 'weekly-sales' ? byWeek(days) : days;
    const orders = rows.reduce((sum, row) => sum + row.orders, 0);
    const revenue = rows.reduce((sum, row) => sum + row.revenue, 0);

    await step('Rendering CSV', 60, 80);
    const csv = toCsv(REPORT_KINDS[kind].header, rows);

    await step('Writing file', 80, 95);
    const url = await writeReport(reportsDir, `${job.id}.csv`, csv, job.signal);
    return { url, rows: rows.length, month, report: kind, orders, revenue: round2(revenue) };
  };
}

/** Spends `stepDelayMs` on one step, reporting progress from `from` to `to` in a few ticks. */
async function runStep(job, name, from, to, stepDelayMs) {
  const ticks = 3;
  job.progress(from, name);
  for (let tick = 1; tick <= ticks; tick++) {
    await delay(stepDelayMs / ticks, job.signal);
    if (tick < ticks) job.progress(Math.round(from + ((to - from) * tick) / ticks), name);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function delay(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Writes next to the final name, then renames: a cancelled or failed write never leaves a half file behind. */
async function writeReport(dir, name, csv, signal) {
  const file = path.join(dir, name);
  const partial = `${file}.part`;
  try {
    await writeFile(partial, csv, { signal });
    signal.throwIfAborted();
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return `/reports/${name}`;
}

/** One row per day of `month`, the same every time for the same month. */
export function salesForMonth(month) {
  const [year, monthNumber] = month.split('-').map(Number);
  const dayCount = new Date(Date.UTC(year, monthNumber, 0)).getUTCDate();
  const random = seededRandom(year * 100 + monthNumber);
  const rows = [];
  for (let day = 1; day <= dayCount; day++) {
    const date = new Date(Date.UTC(year, monthNumber - 1, day));
    const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
    const orders = Math.round((weekend ? 140 : 95) + random() * 60);
    const revenue = round2(orders * (28 + random() * 24));
    rows.push({ date: date.toISOString().slice(0, 10), orders, revenue });
  }
  return rows;
}

/** Sums days into weeks starting on Monday (the first week starts on the 1st). */
function byWeek(days) {
  const weeks = [];
  for (const day of days) {
    const monday = new Date(`${day.date}T00:00:00Z`).getUTCDay() === 1;
    const last = weeks.at(-1);
    if (last === undefined || monday) weeks.push({ date: day.date, orders: day.orders, revenue: day.revenue });
    else Object.assign(last, { orders: last.orders + day.orders, revenue: round2(last.revenue + day.revenue) });
  }
  return weeks;
}

function toCsv(header, rows) {
  return `${[header, ...rows.map((row) => `${row.date},${row.orders},${row.revenue.toFixed(2)}`)].join('\n')}\n`;
}

/** mulberry32: a tiny deterministic PRNG, so a month's fake figures never change. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function round2(value) {
  return Math.round(value * 100) / 100;
}
