// The `output` scenario: what streaming a job's text costs (job.write()), against a plain node:http endpoint in the
// same process and run (servers/output.mjs), read by raw sockets in a load process (lib/output-load.mjs).
// - tokens: 1 task, `subscribers` streams, `tokens` writes of a 5-character token, `burst` per event-loop turn (as
//   a model's chunks arrive), as fast as the server goes. The baseline writes one frame per token to every response;
//   koa-sse-tasks commits one `output` event per turn. Delivered bytes/s and frames/s at the clients, server CPU per
//   written token, and each stream's text length (must be the whole text).
// - late join: `joiners` clients connect at once (`parallel` at a time) to a task already holding `joinBytes` of
//   output: time until every one has the whole text, server CPU and the memory it took.
import { startProcess } from './lib/ipc.mjs';
import { cpuDelta, MB } from './lib/stats.mjs';
import { formatNumber } from './report.mjs';

const LOAD = new URL('./lib/output-load.mjs', import.meta.url).pathname;
const APPS = ['baseline', 'koa-sse-tasks'];
const TOKEN = 'word ';

export const OUTPUT_CONFIG = {
  full: { subscribers: 1000, tokens: 20_000, burst: 10, joiners: 1000, joinBytes: 1024 * 1024, parallel: 200 },
  quick: { subscribers: 200, tokens: 5_000, burst: 10, joiners: 200, joinBytes: 1024 * 1024, parallel: 100 },
};

async function tokensRun(server, load, app, port, cfg) {
  const { path } = await server.call('reset', { app });
  await load.call('open', { port, path, count: cfg.subscribers, until: 'complete' });
  const before = await server.call('stats', { gc: true });
  const { now } = await load.call('now');
  const write = { app, tokens: cfg.tokens, burst: cfg.burst, token: TOKEN };
  const { ms: writeMs } = await server.call('write', write, 600_000);
  await server.call('end', { app });
  const seen = await load.call('wait', { since: now, timeoutMs: 600_000 }, 660_000);
  const after = await server.call('stats');
  const whole = cfg.tokens * TOKEN.length;
  if (seen.done !== cfg.subscribers || seen.minTextChars !== whole || seen.maxTextChars !== whole) {
    throw new Error(
      `tokens ${app}: ${seen.done}/${cfg.subscribers} streams ended, text ${seen.minTextChars}-` +
        `${seen.maxTextChars} of ${whole} characters`,
    );
  }
  const cpu = cpuDelta(before.cpu, after.cpu).total;
  return {
    [`tokens:bytesPerSec:${app}`]: seen.bytes / (seen.lastDoneMs / 1000),
    [`tokens:framesPerSec:${app}`]: seen.frames / (seen.lastDoneMs / 1000),
    [`tokens:framesPerStream:${app}`]: seen.frames / seen.streams,
    [`tokens:cpuPerTokenUs:${app}`]: cpu / cfg.tokens,
    [`tokens:writeMs:${app}`]: writeMs,
    [`tokens:allDoneMs:${app}`]: seen.lastDoneMs,
  };
}

async function lateJoinRun(server, load, app, port, cfg) {
  const { path } = await server.call('reset', { app, initialBytes: cfg.joinBytes });
  const before = await server.call('stats', { gc: true });
  const { now } = await load.call('now');
  await load.call('open', { port, path, count: cfg.joiners, parallel: cfg.parallel, until: 'output' });
  const seen = await load.call('wait', { since: now, timeoutMs: 600_000 }, 660_000);
  const after = await server.call('stats');
  await server.call('end', { app });
  if (seen.done !== cfg.joiners || seen.minTextChars !== cfg.joinBytes) {
    throw new Error(
      `late join ${app}: ${seen.done}/${cfg.joiners} joiners had the text, ${seen.minTextChars} of ${cfg.joinBytes}`,
    );
  }
  return {
    [`join:allMs:${app}`]: seen.lastDoneMs,
    [`join:cpuMs:${app}`]: cpuDelta(before.cpu, after.cpu).total / 1000,
    [`join:rssGrowthMB:${app}`]: (after.mem.rss - before.mem.rss) / MB,
  };
}

async function output({ server, cfg }) {
  const sizes = cfg.output;
  const ports = await server.call('ports');
  const metrics = {};
  for (const app of APPS) {
    const load = await startProcess(LOAD);
    try {
      Object.assign(metrics, await tokensRun(server, load, app, ports[app], sizes));
    } finally {
      await load.stop();
    }
  }
  for (const app of APPS) {
    const load = await startProcess(LOAD);
    try {
      Object.assign(metrics, await lateJoinRun(server, load, app, ports[app], sizes));
    } finally {
      await load.stop();
    }
  }
  metrics['tokens:cpuRatio'] = metrics['tokens:cpuPerTokenUs:koa-sse-tasks'] / metrics['tokens:cpuPerTokenUs:baseline'];
  return metrics;
}

/** The table of a run's `output` results (`summary.output`), as text or Markdown. */
function render(byTarget, markdown) {
  const figures = byTarget?.output;
  if (figures === undefined) return '';
  const cell = (key, scale = 1) => {
    const stat = figures[key];
    if (stat === undefined || stat.n === 0) return '–';
    const [median, min, max] = [stat.median * scale, stat.min * scale, stat.max * scale];
    return min === max ? formatNumber(median) : `${formatNumber(median)} (${formatNumber(min)}–${formatNumber(max)})`;
  };
  const ratio = (key) => {
    const ours = figures[`${key}:koa-sse-tasks`]?.median;
    const base = figures[`${key}:baseline`]?.median;
    return ours === undefined || base === undefined ? '–' : `${(ours / base).toFixed(2)}×`;
  };
  const rows = [
    ['tokens: delivered MB/s', 'tokens:bytesPerSec', 1 / MB],
    ['tokens: frames per stream', 'tokens:framesPerStream'],
    ['tokens: frames/s delivered', 'tokens:framesPerSec'],
    ['tokens: server CPU per written token (µs)', 'tokens:cpuPerTokenUs'],
    ['tokens: until every stream ended (ms)', 'tokens:allDoneMs'],
    ['late join: until every joiner had the text (ms)', 'join:allMs'],
    ['late join: server CPU (ms)', 'join:cpuMs'],
    ['late join: server RSS growth (MB)', 'join:rssGrowthMB'],
  ].map(([label, key, scale]) => [
    label,
    cell(`${key}:baseline`, scale),
    cell(`${key}:koa-sse-tasks`, scale),
    ratio(key),
  ]);
  const header = ['', 'node:http', 'koa-sse-tasks', '× base'];
  if (markdown) {
    return [`| ${header.join(' | ')} |`, '|:--|--:|--:|--:|', ...rows.map((row) => `| ${row.join(' | ')} |`)].join(
      '\n',
    );
  }
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all
    .map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

/** The scenario, as run.mjs runs it, with its sizes, headline figures and table. */
export const OUTPUT = {
  name: 'output',
  targets: ['output'],
  run: output,
  config: OUTPUT_CONFIG,
  timeoutMs: { full: 1_200_000, quick: 180_000 },
  headlines: [
    'tokens:cpuRatio',
    'tokens:framesPerStream:koa-sse-tasks',
    'join:allMs:koa-sse-tasks',
    'join:allMs:baseline',
  ],
  title: 'Job output: streamed tokens and late joiners (node:http baseline in the same process)',
  render,
};
