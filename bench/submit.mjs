// The `submit` scenario: what a POST /tasks costs, and what an input schema and an Idempotency-Key add to it, on the
// memory and the Redis store. One server process (servers/submit.mjs: two runners that only start tasks, one per
// store) and one load process (lib/submit-load.mjs: keep-alive POSTs on raw sockets, each answer's latency). For each
// store and variant: POST/s, its ratio to the same store without schema or key, p50 and p99, and the server's CPU per
// POST.
import { startProcess } from './lib/ipc.mjs';
import { cpuDelta } from './lib/stats.mjs';
import { formatNumber } from './report.mjs';

const LOAD = new URL('./lib/submit-load.mjs', import.meta.url).pathname;

/**
 * Full and --quick sizes (run.mjs puts the one of its mode in `cfg.submit`): every variant is warmed up, then they
 * take turns in `rounds` windows of `windowMs` each (the order rotating), so a change in what else the machine does
 * hits them alike.
 */
export const SUBMIT_CONFIG = {
  full: { connections: 32, windowMs: 1000, rounds: 5, warmupMs: 500 },
  quick: { connections: 16, windowMs: 300, rounds: 3, warmupMs: 300 },
};

const STORES = ['memory', 'redis'];
/** [name, label, what is posted]; `key`: none, a new one per request, or one for all (every POST but the first replays). */
const VARIANTS = [
  ['plain', 'no schema, no key', { type: 'plain', key: 'none' }],
  ['schema', 'zod schema', { type: 'schema', key: 'none' }],
  ['key', 'Idempotency-Key (new each time)', { type: 'plain', key: 'unique' }],
  ['schema+key', 'schema and key', { type: 'schema', key: 'unique' }],
  ['replay', 'Idempotency-Key replayed (200)', { type: 'plain', key: 'same', expect: [200, 202] }],
];
const INPUT = { month: '2024-02', note: 'for the quarterly review' };

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const median = (values) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function submit({ server, cfg }) {
  const { connections, windowMs, rounds, warmupMs } = cfg.submit;
  const load = await startProcess(LOAD);
  const units = STORES.flatMap((store) =>
    VARIANTS.map(([name, , { type, key, expect }]) => ({
      store,
      name,
      args: {
        port: server.info.port,
        path: `/${store}/tasks`,
        body: JSON.stringify({ type, input: INPUT }),
        key,
        connections,
        expect,
      },
      responses: 0,
      ms: 0,
      cpu: 0,
      latencies: [],
      rates: [],
    })),
  );
  const post = async (unit, ms) => {
    const result = await load.call('post', { ...unit.args, ms });
    if (result.notOk > 0 || result.errors > 0) {
      throw new Error(
        `submit ${unit.store} ${unit.name}: ${result.notOk} unexpected answers, ${result.errors} socket errors`,
      );
    }
    return result;
  };
  try {
    for (const unit of units) await post(unit, warmupMs);
    for (let round = 0; round < rounds; round++) {
      const shift = round % units.length;
      for (const unit of [...units.slice(shift), ...units.slice(0, shift)]) {
        const before = await server.call('stats');
        const result = await post(unit, windowMs);
        const after = await server.call('stats');
        unit.responses += result.responses;
        unit.ms += result.ms;
        unit.cpu += cpuDelta(before.cpu, after.cpu).total;
        unit.latencies.push(...result.latencies);
        unit.rates.push((result.responses / result.ms) * 1000);
      }
    }
    await server.call('finish');
  } finally {
    await load.stop();
  }
  const metrics = {};
  for (const unit of units) {
    const id = `${unit.store}:${unit.name}`;
    const plain = units.find((other) => other.store === unit.store && other.name === 'plain');
    const sorted = unit.latencies.sort((x, y) => x - y);
    metrics[`perSec:${id}`] = (unit.responses / unit.ms) * 1000;
    // Each round's windows are next to each other in time: their ratio cancels most of the machine's drift.
    metrics[`vsPlain:${id}`] = median(unit.rates.map((rate, round) => rate / plain.rates[round]));
    metrics[`p50Ms:${id}`] = quantile(sorted, 0.5);
    metrics[`p99Ms:${id}`] = quantile(sorted, 0.99);
    metrics[`cpuUs:${id}`] = unit.cpu / unit.responses;
  }
  return metrics;
}

/** The table of a run's `submit` results (`summary.submit`), as text or Markdown. */
function render(byTarget, markdown) {
  const figures = byTarget?.submit;
  if (figures === undefined) return '';
  const cell = (stat) =>
    stat === undefined || stat.n === 0
      ? '–'
      : stat.min === stat.max
        ? formatNumber(stat.median)
        : `${formatNumber(stat.median)} (${formatNumber(stat.min)}–${formatNumber(stat.max)})`;
  const header = ['store', 'POST /tasks', 'POST/s', '× plain (paired)', 'p50 (ms)', 'p99 (ms)', 'server CPU/POST (µs)'];
  const rows = [];
  for (const store of STORES) {
    for (const [name, label] of VARIANTS) {
      const id = `${store}:${name}`;
      const ratio = figures[`vsPlain:${id}`];
      rows.push([
        store,
        label,
        cell(figures[`perSec:${id}`]),
        ratio === undefined || ratio.n === 0 ? '–' : `${ratio.median.toFixed(2)}×`,
        cell(figures[`p50Ms:${id}`]),
        cell(figures[`p99Ms:${id}`]),
        cell(figures[`cpuUs:${id}`]),
      ]);
    }
  }
  if (markdown) {
    return [
      `| ${header.join(' | ')} |`,
      `|:--|:--|${header
        .slice(2)
        .map(() => '--:')
        .join('|')}|`,
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
  }
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all
    .map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

/** The scenario, as run.mjs runs it (after the others), with its sizes, headline figures and table. */
export const SUBMIT = {
  name: 'submit',
  targets: ['submit'],
  run: submit,
  config: SUBMIT_CONFIG,
  headlines: ['perSec:memory:plain', 'perSec:memory:schema+key', 'perSec:redis:plain', 'perSec:redis:schema+key'],
  title: 'POST /tasks (submit): what a schema and an Idempotency-Key cost, memory and Redis stores',
  render,
};
