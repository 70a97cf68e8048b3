// Turns the passes into tables: each figure is the median of the passes with its range (min–max), and its ratio
// to the scenario's baseline measured in the same run. Also checks the figures against the project's goals.
import { MB, summarize } from './lib/stats.mjs';
import { FULL, QUICK } from './config.mjs';

/** Every figure shown, in order. `better` says which way is good (for the reader; nothing is scored on it). */
export function metricRows(cfg) {
  const steps = cfg.idle.steps;
  const rows = [
    ['idle', 'rssPerStreamKB', `RSS per idle stream (slope ${steps[0]}→${steps.at(-1)})`, 'KB'],
    ['idle', 'heapPerStreamKB', 'heap per idle stream (same slope)', 'KB'],
    ['idle', 'rssAtMaxMB', `RSS with ${steps.at(-1)} streams open`, 'MB'],
    ['idle', 'heapAtMaxMB', `heap with ${steps.at(-1)} streams open`, 'MB'],
    ['idle', 'heapAfterCloseMB', 'heap after all closed, minus heap before', 'MB'],
    ['idle', 'openPerSec', 'streams opened per second', '/s'],
    ['fanout', 'eventsPerSec', 'delivered events per second', '/s'],
    ['fanout', 'cpuPerEventUs', 'server CPU per delivered event (user+sys)', 'µs'],
    ['fanout', 'userPerEventUs', '… user', 'µs'],
    ['fanout', 'sysPerEventUs', '… sys', 'µs'],
    ['fanout', 'clientCpuPerEventUs', 'client CPU per delivered event', 'µs'],
    ['fanout', 'lost', 'lost events', ''],
    ['fanout', 'dup', 'duplicate events', ''],
    ['fanout', 'ooo', 'out-of-order or malformed events', ''],
  ];
  for (const rate of cfg.latency.rates) {
    for (const q of ['p50', 'p90', 'p99', 'max'])
      rows.push(['latency', `${q}Ms@${rate}`, `${q} at ${rate} events/s`, 'ms']);
    rows.push(['latency', `lost@${rate}`, `lost+dup+out-of-order at ${rate} events/s`, '']);
  }
  rows.push(
    ['churn', 'cyclesPerSec', 'connect/first byte/disconnect cycles per second', '/s'],
    ['churn', 'cpuPerCycleUs', 'server CPU per cycle', 'µs'],
    ['churn', 'heapGrowth2ndHalfKB', 'heap growth over the 2nd half (after GC)', 'KB'],
    ['churn', 'heapSlope2ndHalfBytesPerCycle', '… fitted slope over the 2nd half', 'B/cycle'],
    ['churn', 'objectsPer1kCycles2ndHalf', 'objects added per 1000 cycles over the 2nd half (heap snapshots)', ''],
    ['churn', 'objectBytesPerCycle2ndHalf', '… their bytes per cycle', 'B/cycle'],
    ['churn', 'errors', 'failed cycles', ''],
    ['churn', 'leftSockets', 'sockets left open after', ''],
    ['churn', 'leftStreams', 'streams/sessions/subscriptions left after', ''],
    ['churn', 'leftTimers', 'timers left after (vs before)', ''],
    ['overhead', 'requestsPerSec', 'GET /json requests per second', '/s'],
    ['overhead', 'pairedRatio', 'requests/s ÷ Koa without SSE in the same round (median of rounds)', '×'],
    ['overhead', 'cpuPerRequestUs', 'server CPU per request', 'µs'],
    [
      'manyTasks',
      'totalMs',
      `deliver ${cfg.manyTasks.events} events × ${cfg.manyTasks.tasks} tasks × ${cfg.manyTasks.subscribersPerTask} streams`,
      'ms',
    ],
    ['manyTasks', 'cpuMs', '… server CPU', 'ms'],
    ['manyTasks', 'heapMB', `heap for ${cfg.manyTasks.tasks} tasks and their streams`, 'MB'],
    ['manyTasks', 'rssMB', 'RSS for the same', 'MB'],
    ['manyTasks', 'setupMs', 'set-up: create tasks and open streams', 'ms'],
    ['manyTasks', 'lost', 'lost+dup+out-of-order events', ''],
  );
  const { events, frameBytes } = cfg.stalled ?? FULL.stalled; // a run saved before the scenario existed
  for (const [key, label, unit] of [
    ['newestP50Ms', 'newest progress (the last event) reached the healthy clients after: median', 'ms'],
    ['newestMaxMs', 'newest progress reached the healthy clients after: the slowest client', 'ms'],
    ['latencyP50Ms', 'latency of every progress event a healthy client received: p50', 'ms'],
    ['latencyMaxMs', 'latency of every progress event a healthy client received: max', 'ms'],
    ['framesMin', `progress events (of ${formatNumber(events)}) a healthy client received: fewest`, ''],
    ['framesMedian', `progress events (of ${formatNumber(events)}) a healthy client received: median`, ''],
    ['cpuMs', 'server CPU (user+sys)', 'ms'],
    ['missedNewest', 'healthy clients the last event never reached', ''],
    ['dupOoo', 'duplicate, out-of-order or malformed events', ''],
  ]) {
    rows.push(['stalled', `${key}@without`, `${label}, without the stalled client`, unit]);
    rows.push(['stalled', `${key}@with`, `… with it`, unit]);
  }
  rows.push([
    'stalled',
    'stalledSocketMB@with',
    `bytes handed to the stalled client's socket, sent or waiting (all its events: ${formatNumber((events * frameBytes) / MB)} MB)`,
    'MB',
  ]);
  for (const [key, label] of [
    ['newestP50Ms', 'newest progress, median'],
    ['newestMaxMs', 'newest progress, slowest client'],
    ['framesMin', 'fewest events received'],
    ['cpuMs', 'server CPU'],
  ]) {
    rows.push(['stalled', `${key}@ratio`, `with ÷ without the stalled client, same pass: ${label}`, '×']);
  }
  const all = rows.map(([scenario, key, label, unit]) => ({ scenario, key, label, unit, noRatio: false }));
  for (const scenario of Object.keys(SCENARIO_TITLES)) {
    all.push({
      scenario,
      key: 'otherLoadPct',
      label: 'CPU taken by other processes meanwhile (share of machine)',
      unit: '%',
      noRatio: true,
    });
  }
  return all;
}

export const SCENARIO_TITLES = {
  idle: 'idle streams',
  fanout: 'fan-out',
  latency: 'latency',
  churn: 'churn',
  overhead: 'overhead on other routes (baseline: Koa without SSE)',
  manyTasks: 'many tasks',
  stalled: 'a stalled client among healthy ones (1 task; see Parameters: `stalled`)',
};

/** `results[scenario][target]` = array of per-pass metric objects -> `summary[scenario][target][key]`. */
export function summarizeResults(results) {
  const summary = {};
  for (const [scenario, byTarget] of Object.entries(results)) {
    summary[scenario] = {};
    for (const [target, passes] of Object.entries(byTarget)) {
      const keys = new Set(passes.flatMap((metrics) => Object.keys(metrics)));
      summary[scenario][target] = {};
      for (const key of keys) summary[scenario][target][key] = summarize(passes.map((metrics) => metrics[key]));
    }
  }
  return summary;
}

export function formatNumber(value) {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(2);
}

function formatCell(stat) {
  if (stat === undefined || stat.n === 0) return '–';
  if (stat.min === stat.max) return formatNumber(stat.median);
  return `${formatNumber(stat.median)} (${formatNumber(stat.min)}–${formatNumber(stat.max)})`;
}

function ratio(stat, base) {
  if (stat === undefined || base === undefined || stat.n === 0 || base.n === 0) return undefined;
  if (base.median === 0) return stat.median === 0 ? 1 : undefined;
  return stat.median / base.median;
}

function formatRatio(value) {
  return value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`;
}

/** Rows of strings: [metric, baseline, then per other target: value, ratio]. */
export function buildTable(summary, cfg, scenarios) {
  const others = scenarios[0]?.targets.slice(1) ?? [];
  const header = ['metric', 'baseline', ...others.flatMap((target) => [target, '× base'])];
  const sections = [];
  for (const { name, targets } of scenarios) {
    const byTarget = summary[name];
    if (byTarget === undefined) continue;
    const [baseTarget, ...sectionOthers] = targets;
    const rows = [];
    for (const row of metricRows(cfg).filter((r) => r.scenario === name)) {
      const base = byTarget[baseTarget]?.[row.key];
      const label = row.unit === '' ? row.label : `${row.label} (${row.unit})`;
      const cells = [label, formatCell(base)];
      // The columns are the first scenario's targets; a scenario without one of them shows '–' there.
      for (const target of others) {
        if (!sectionOthers.includes(target)) {
          cells.push('–', '');
          continue;
        }
        const stat = byTarget[target]?.[row.key];
        cells.push(formatCell(stat), row.noRatio ? '' : formatRatio(ratio(stat, base)));
      }
      rows.push(cells);
    }
    sections.push({ name, title: SCENARIO_TITLES[name] ?? name, baseTarget, rows });
  }
  return { header, sections };
}

export function renderText({ header, sections }) {
  const all = [header, ...sections.flatMap((s) => s.rows)];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const line = (row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : (cell ?? '').padStart(widths[i]))).join('  ');
  const out = [line(header)];
  for (const section of sections) {
    out.push(
      '',
      `${section.title}${section.baseTarget === 'baseline' ? '' : ` [baseline column: ${section.baseTarget}]`}`,
    );
    for (const row of section.rows) out.push(line(row));
  }
  return out.join('\n');
}

export function renderMarkdown({ header, sections }) {
  const out = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`];
  for (const section of sections) {
    const note = section.baseTarget === 'baseline' ? '' : ` — baseline column: \`${section.baseTarget}\``;
    out.push(`| **${section.title}**${note} |${' |'.repeat(header.length - 1)}`);
    for (const row of section.rows) out.push(`| ${row.join(' | ')} |`);
  }
  return out.join('\n');
}

/** The project's goals for koa-sse-tasks, each with its figure, its limit and whether it is met. */
export function checkGoals(summary, cfg) {
  const get = (scenario, target, key) => summary[scenario]?.[target]?.[key];
  const r = (scenario, key, target = 'koa-sse-tasks', base = 'baseline') =>
    ratio(get(scenario, target, key), get(scenario, base, key));
  const goals = [];
  const add = (goal, value, met, reference, why) => goals.push({ goal, value, met, reference, why });
  const check = (value, test) => (value === undefined ? undefined : test(value));
  // The goals are set at the full run's sizes. With fewer subscribers (--quick) each event's fixed cost (commit,
  // encode) is shared by fewer deliveries, and a 1,000-stream slope is mostly noise: such a run shows, not judges.
  const small = 'n/a (quick)';
  const atSize = (size, goalSize, value, test) => (size >= goalSize ? check(value, test) : undefined);
  const whyNot = (size, goalSize) => (size >= goalSize ? undefined : small);

  const events = r('fanout', 'eventsPerSec');
  add(
    'fan-out delivered events/s ≥ 0.9× baseline',
    formatRatio(events),
    atSize(cfg.fanout.subscribers, 1000, events, (v) => v >= 0.9),
    formatRatio(r('fanout', 'eventsPerSec', 'better-sse')),
    whyNot(cfg.fanout.subscribers, 1000),
  );
  const cpu = r('fanout', 'cpuPerEventUs');
  add(
    'server CPU per delivered event ≤ 1.2× baseline',
    formatRatio(cpu),
    atSize(cfg.fanout.subscribers, 1000, cpu, (v) => v <= 1.2),
    formatRatio(r('fanout', 'cpuPerEventUs', 'better-sse')),
    whyNot(cfg.fanout.subscribers, 1000),
  );
  const rss = r('idle', 'rssPerStreamKB');
  add(
    'RSS per idle stream ≤ 1.5× baseline',
    formatRatio(rss),
    atSize(cfg.idle.steps.at(-1), 10_000, rss, (v) => v <= 1.5),
    formatRatio(r('idle', 'rssPerStreamKB', 'better-sse')),
    whyNot(cfg.idle.steps.at(-1), 10_000),
  );
  const rate = cfg.latency.rates[0];
  const p99 = r('latency', `p99Ms@${rate}`);
  add(
    `p99 latency at ${rate} events/s ≤ 1.5× baseline`,
    formatRatio(p99),
    atSize(cfg.latency.subscribers, 1000, p99, (v) => v <= 1.5),
    formatRatio(r('latency', `p99Ms@${rate}`, 'better-sse')),
    whyNot(cfg.latency.subscribers, 1000),
  );

  // "Indistinguishable": in heap snapshots (V8 internals left out), the 2nd half leaves no more objects behind than
  // the baseline's worst pass, give or take one per 10 cycles (at least 50: a few objects come and go for no reason).
  // heapUsed itself moves by hundreds of KB between GCs, so it is shown, not judged.
  const half =
    cfg.churn.cycles - Math.floor(cfg.churn.segments / 2) * Math.floor(cfg.churn.cycles / cfg.churn.segments);
  const churnVerdict = (target) => {
    const a = get('churn', target, 'objectsPer1kCycles2ndHalf');
    const b = get('churn', 'baseline', 'objectsPer1kCycles2ndHalf');
    if (a === undefined || b === undefined || a.n === 0 || b.n === 0) return { text: '–', met: undefined };
    const excess = ((a.max - b.max) * half) / 1000;
    const text =
      `${formatNumber(a.median)} objects/1000 cycles (${formatNumber(a.min)}–${formatNumber(a.max)}) ` +
      `vs baseline ${formatNumber(b.median)} (${formatNumber(b.min)}–${formatNumber(b.max)})`;
    return { text, met: excess <= Math.max(50, half / 10) };
  };
  const churn = churnVerdict('koa-sse-tasks');
  add(
    'churn: heap growth over the 2nd half indistinguishable from the baseline (objects in heap snapshots)',
    churn.text,
    churn.met,
    churnVerdict('better-sse').text,
  );
  const paired = (target) => get('overhead', target, 'pairedRatio');
  const cpuReq = r('overhead', 'cpuPerRequestUs', 'koa-sse-tasks', 'koa-plain');
  const loss = (target) => {
    const stat = paired(target);
    return stat === undefined || stat.n === 0 ? undefined : 1 - stat.median;
  };
  const fewer = (value) =>
    value === undefined || !Number.isFinite(value)
      ? '–'
      : `${Math.abs(value * 100).toFixed(1)}% ${value >= 0 ? 'fewer' : 'more'} req/s`;
  const ours = loss('koa-sse-tasks');
  const range = paired('koa-sse-tasks');
  add(
    'overhead on other routes < 3% (requests/s vs Koa without sseTasks, paired round by round)',
    `${fewer(ours)} (passes: ${range === undefined ? '–' : `${formatRatio(range.min)}–${formatRatio(range.max)}`}` +
      `); CPU/request ${formatRatio(cpuReq)}`,
    // Under ~3 s of load per target (--quick), a cold JIT and the machine's noise are bigger than 3%.
    cfg.overhead.rounds * cfg.overhead.windowMs < 3000 ? undefined : check(ours, (v) => v < 0.03),
    fewer(loss('better-sse')),
    cfg.overhead.rounds * cfg.overhead.windowMs < 3000 ? small : undefined,
  );
  return goals;
}

/** Said under the goals when a --quick run only shows some of them. */
const sizes = ({ fanout, idle, overhead }) =>
  `${fanout.subscribers} subscribers, ${idle.steps.at(-1)} streams and ${(overhead.rounds * overhead.windowMs) / 1000} s`;
const QUICK_NOTE =
  `n/a (quick): a --quick run has ${sizes(QUICK)} of load per app, not the ${sizes(FULL)} the goals are set at; ` +
  'it shows the ratios, `npm run bench` judges them.';

export function renderGoals(goals, markdown) {
  const verdict = (g) =>
    g.met === undefined ? (g.why ?? 'n/a (too short a run to judge)') : g.met ? 'met' : 'NOT met';
  const note = goals.some((g) => g.why !== undefined) ? ['', QUICK_NOTE] : [];
  if (markdown) {
    return [
      '| goal (koa-sse-tasks) | measured | verdict | better-sse, for reference |',
      '|:--|--:|:--|--:|',
      ...goals.map(
        (g) => `| ${g.goal} | ${g.value} | ${g.met === false ? '**NOT met**' : verdict(g)} | ${g.reference} |`,
      ),
      ...note,
    ].join('\n');
  }
  return [
    ...goals.map((g) => `${verdict(g).padEnd(11)} ${g.goal}: ${g.value}   (better-sse: ${g.reference})`),
    ...note,
  ].join('\n');
}
