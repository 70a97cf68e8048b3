// The `report` task: validates its input, "queries" deterministic fake sales for a month, renders a CSV and writes
// it to `reportsDir`. Every wait listens to `job.signal`, so a cancel stops the job within a tick.
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
 * The handler of the `report` task type. Input: `{ month: 'YYYY-MM', report?: 'daily-sales' | 'weekly-sales',
 * fail?: boolean }`. Result: `{ url, rows, month, report, orders, revenue }`.
 */
export function reportJob({ reportsDir, stepDelayMs }) {
  return async function report(job) {
    const { month, kind, fail } = parseInput(job.input);
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

export function parseInput(input) {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error('Invalid input: expected an object like {"month": "2024-02"}');
  }
  const { month, report = 'daily-sales', fail = false } = input;
  if (typeof month !== 'string' || !MONTH.test(month)) {
    throw new Error(`Invalid month ${JSON.stringify(month)}: expected YYYY-MM, e.g. "2024-02"`);
  }
  if (!Object.hasOwn(REPORT_KINDS, report)) {
    const known = Object.keys(REPORT_KINDS).join(', ');
    throw new Error(`Unknown report ${JSON.stringify(report)}: expected one of ${known}`);
  }
  if (typeof fail !== 'boolean') throw new Error(`Invalid fail ${JSON.stringify(fail)}: expected true or false`);
  if (month < FIRST_MONTH) throw new Error(`No sales data for ${month}: the records start in ${FIRST_MONTH}`);
  if (month > new Date().toISOString().slice(0, 7)) {
    throw new Error(`No sales data for ${month}: that month has not happened yet`);
  }
  return { month, kind: report, fail };
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
