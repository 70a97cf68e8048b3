// `npm run bench` — koa-sse-tasks against a bare node:http baseline and better-sse, each target its own server
// process, driven by a separate load-client process, all on 127.0.0.1.
//
//   npm run bench                    full run (3 passes), writes the results into BENCHMARKS.md
//   npm run bench -- --quick         fewer connections and events; prints only (unless --out)
//   (a run without --only or --targets goes on with bench/multi/run.mjs: across instances, on each shared store)
//   node bench/run.mjs --profile     CPU profiles of the fan-out, churn and stalled-client servers (hot functions, by
//                                    area and by function) and what one idle stream holds on the heap, by kind of
//                                    object (--only=stalled: that one alone)
//   options: --passes=N  --only=idle,fanout,latency,churn,overhead,manyTasks,stalled,submit,output
//            --targets=koa-sse-tasks,better-sse
//            --out=FILE  --no-write  --render=bench/results/full-latest.json (re-print a saved run, no measuring)
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FULL, QUICK, READY_TOKEN } from './config.mjs';
import { heapByKind, perStreamGrowth } from './lib/heap.mjs';
import { openFileLimit, startProcess } from './lib/ipc.mjs';
import { describeMachine, describeSource, startLoadMeter } from './lib/machine.mjs';
import { renderProfile, summarizeProfile } from './lib/profile.mjs';
import { summarize } from './lib/stats.mjs';
import {
  buildTable,
  checkGoals,
  formatNumber,
  renderGoals,
  renderMarkdown,
  renderText,
  summarizeResults,
} from './report.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { OUTPUT } from './output.mjs';
import { SUBMIT } from './submit.mjs';

const HOST = new URL('./servers/host.mjs', import.meta.url).pathname;
const CLIENT = new URL('./client.mjs', import.meta.url).pathname;
const RESULTS_DIR = new URL('./results/', import.meta.url);
const BENCHMARKS_MD = new URL('../BENCHMARKS.md', import.meta.url);
const START_MARK = '<!-- bench:start -->';
const END_MARK = '<!-- bench:end -->';

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    passes: { type: 'string' },
    only: { type: 'string' },
    targets: { type: 'string' },
    render: { type: 'string' },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});

const mode = options.quick ? 'quick' : 'full';
const cfg = globalThis.structuredClone(options.quick ? QUICK : FULL);
cfg.submit = SUBMIT.config[mode];
cfg.output = OUTPUT.config[mode];
if (options.passes !== undefined) {
  cfg.passes = Number(options.passes);
  // --passes is for every scenario, those with a count of their own included.
  for (const scenarioCfg of Object.values(cfg)) if (typeof scenarioCfg === 'object') delete scenarioCfg.passes;
}
const only = options.only?.split(',').map((s) => s.trim());
const onlyTargets = options.targets?.split(',').map((s) => s.trim());
const scenarios = [...SCENARIOS, SUBMIT, OUTPUT]
  .filter((s) => only === undefined || only.includes(s.name))
  .map((s) => ({
    ...s,
    // The baseline (first) always runs: every figure is shown as a ratio to it.
    targets: s.targets.filter((t, i) => i === 0 || onlyTargets === undefined || onlyTargets.includes(t)),
  }));
const machine = describeMachine();
const source = describeSource();
const unitTimeoutMs = options.quick ? 60_000 : 180_000;
let quietBudgetMs = options.quick ? 2_000 : 60_000;
let quietWaitedMs = 0;
const started = performance.now();

/**
 * Each process holds one socket per stream. Below the limit on open files the run needs, it starts again under
 * `prlimit` with a higher one where it may (root, util-linux's prlimit); else it caps the idle ramp below the limit.
 */
async function checkFileLimit() {
  const limit = (await openFileLimit()) ?? Infinity;
  machine.fileLimit = limit;
  const needed = Math.max(...cfg.idle.steps, cfg.manyTasks.tasks * cfg.manyTasks.subscribersPerTask) + 200;
  if (limit >= needed) return;
  if (process.getuid?.() === 0 && process.env.BENCH_PRLIMIT === undefined && existsSync('/usr/bin/prlimit')) {
    const nofile = needed + 10_000;
    const args = [`--nofile=${nofile}:${nofile}`, process.execPath, ...process.execArgv, ...process.argv.slice(1)];
    const { spawnSync } = await import('node:child_process');
    // A container without CAP_SYS_RESOURCE may not raise the hard limit, root or not: then the ramp is capped.
    if (spawnSync('/usr/bin/prlimit', [`--nofile=${nofile}:${nofile}`, 'true']).status === 0) {
      const { status } = spawnSync('/usr/bin/prlimit', args, {
        stdio: 'inherit',
        env: { ...process.env, BENCH_PRLIMIT: '1' },
      });
      process.exit(status ?? 1);
    }
  }
  const cap = limit - 200;
  console.warn(
    `ulimit -n is ${limit}: idle steps capped at ${cap} (raise it to run ${Math.max(...cfg.idle.steps)} streams)`,
  );
  cfg.idle.steps = [...new Set(cfg.idle.steps.map((n) => Math.min(n, cap)))];
  cfg.cappedByFileLimit = limit;
}

/**
 * One scenario on one target (or, for a `together` scenario, on all its targets at once): fresh server processes
 * and a fresh client process, all stopped afterwards. Resolves with { target: metrics }.
 */
async function runUnit(scenario, targets, extra = {}) {
  const servers = {};
  let client;
  try {
    for (const target of targets) servers[target] = await startProcess(HOST, { args: [target] });
    client = await startProcess(CLIENT);
    const ourCpuUs = async () => {
      let us = 0;
      for (const server of Object.values(servers)) {
        const { cpu } = await server.call('stats');
        us += cpu.user + cpu.system;
      }
      const own = [await client.call('cpu'), process.cpuUsage()];
      return own.reduce((sum, cpu) => sum + cpu.user + cpu.system, us);
    };
    const meter = startLoadMeter(machine);
    const ourStart = await ourCpuUs();
    const ctx = scenario.together
      ? { servers, client, cfg, ...extra }
      : { server: servers[targets[0]], client, cfg, target: targets[0], ...extra };
    let timer;
    const timeout = new Promise((_, reject) => {
      // A scenario may need longer than the others (output's baseline writes 20 M frames in a full run).
      const limitMs = scenario.timeoutMs?.[mode] ?? unitTimeoutMs;
      timer = setTimeout(() => reject(new Error(`timed out after ${limitMs} ms`)), limitMs);
    });
    const result = await Promise.race([scenario.run(ctx), timeout]).finally(() => clearTimeout(timer));
    const otherLoadPct = meter.stop((await ourCpuUs()) - ourStart) * 100;
    const byTarget = scenario.together ? result : { [targets[0]]: result };
    for (const metrics of Object.values(byTarget)) metrics.otherLoadPct = otherLoadPct;
    return byTarget;
  } finally {
    await Promise.all([client?.stop(), ...Object.values(servers).map((server) => server.stop())]);
  }
}

/**
 * The machine may be shared: before a unit, wait (at most `maxMs`, and `quietBudgetMs` over the whole run) for a
 * quarter second in which other processes take under 15% of the CPU.
 */
async function waitForQuiet(maxMs) {
  const started = performance.now();
  const until = started + Math.min(maxMs, quietBudgetMs);
  while (performance.now() < until) {
    const meter = startLoadMeter(machine);
    const own = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 250));
    const { user, system } = process.cpuUsage(own);
    if (meter.stop(user + system) < 0.15) break;
  }
  const waited = performance.now() - started;
  quietBudgetMs = Math.max(0, quietBudgetMs - waited);
  quietWaitedMs += waited;
}

const HEADLINES = {
  idle: ['rssPerStreamKB', 'heapPerStreamKB', 'heapAfterCloseMB'],
  fanout: ['eventsPerSec', 'cpuPerEventUs', 'lost', 'dup'],
  latency: ['p50Ms@50', 'p99Ms@50', 'p99Ms@200'],
  churn: ['cyclesPerSec', 'cpuPerCycleUs', 'heapGrowth2ndHalfKB', 'leftStreams', 'leftTimers'],
  overhead: ['requestsPerSec', 'cpuPerRequestUs'],
  manyTasks: ['totalMs', 'cpuMs', 'heapMB'],
  stalled: ['newestP50Ms', 'newestMaxMs', 'framesMin', 'framesMedian', 'cpuMs'],
  submit: SUBMIT.headlines,
  output: OUTPUT.headlines,
};

/** A scenario's passes: its own count when its config has one, else the run's. */
function passesOf(scenario, c = cfg) {
  return c[scenario.name]?.passes ?? c.passes;
}

/** One unit after waiting for a quiet moment, with its headline figures printed under `label`. */
async function timedUnit(scenario, targets, label, extra = {}) {
  const unitStarted = performance.now();
  await waitForQuiet(options.quick ? 500 : 5000);
  const byTarget = await runUnit(scenario, targets, extra);
  const seconds = ((performance.now() - unitStarted) / 1000).toFixed(1);
  for (const [target, metrics] of Object.entries(byTarget)) {
    const shown = HEADLINES[scenario.name].map((key) => `${key}=${formatNumber(metrics[key])}`).join(' ');
    const name = scenario.together ? `  ${target}` : '';
    console.log(`${label}${name} ${shown}  [${seconds} s, other load ${formatNumber(metrics.otherLoadPct)}%]`);
  }
  return byTarget;
}

/**
 * A scenario with variants (the stalled client: without, with) on one target: each on fresh processes, one right
 * after the other and each first in turn, so that both see the same machine. Its metrics are `key@variant`, with
 * what `scenario.pair` adds to compare them.
 */
async function pairedUnits(scenario, target, label, pass) {
  const first = (pass - 1) % scenario.variants.length;
  const merged = { otherLoadPct: 0 };
  for (const variant of [...scenario.variants.slice(first), ...scenario.variants.slice(0, first)]) {
    const { [target]: metrics } = await timedUnit(scenario, [target], `${label} ${variant.padEnd(7)}`, { variant });
    for (const [key, value] of Object.entries(metrics)) merged[`${key}@${variant}`] = value;
    merged.otherLoadPct = Math.max(merged.otherLoadPct, metrics.otherLoadPct);
  }
  return scenario.pair(merged);
}

async function benchmark() {
  console.log(
    `koa-sse-tasks benchmark (${source}), ${mode} run: ${cfg.passes} passes; ${machine.cores} cores, ${machine.cpu}, ` +
      `Node ${machine.node}`,
  );
  const results = {};
  const errors = [];
  for (let pass = 1; pass <= Math.max(...scenarios.map((s) => passesOf(s))); pass++) {
    for (const scenario of scenarios.filter((s) => pass <= passesOf(s))) {
      // Rotate the order of the targets from pass to pass, so none always runs first.
      const shift = (pass - 1) % scenario.targets.length;
      const order = [...scenario.targets.slice(shift), ...scenario.targets.slice(0, shift)];
      for (const targets of scenario.together ? [order] : order.map((target) => [target])) {
        const label = `pass ${pass}/${passesOf(scenario)}  ${scenario.name.padEnd(9)} ${targets.join('+').padEnd(13)}`;
        try {
          const byTarget =
            scenario.variants === undefined
              ? await timedUnit(scenario, targets, label)
              : { [targets[0]]: await pairedUnits(scenario, targets[0], label, pass) };
          for (const [target, metrics] of Object.entries(byTarget)) {
            ((results[scenario.name] ??= {})[target] ??= []).push(metrics);
          }
        } catch (error) {
          errors.push(`${label.replace(/\s+/g, ' ')}: ${error.message}`);
          console.log(`${label} FAILED: ${error.message}`);
        }
      }
    }
  }
  const run = {
    mode,
    machine,
    source,
    cfg,
    scenarios: scenarios.map(({ name, targets, together }) => ({ name, targets, together })),
    results,
    errors,
    elapsedMin: (performance.now() - started) / 60_000,
    quietWaitedMs,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const complete = only === undefined && onlyTargets === undefined;
  const name = complete ? mode : `${mode}-partial`;
  await writeFile(new URL(`${name}-latest.json`, RESULTS_DIR), JSON.stringify(run, null, 1));
  await report(run, options.out ?? (mode === 'full' && complete ? BENCHMARKS_MD : undefined));
  if (errors.length > 0) process.exitCode = 1;
}

/** Prints the tables of a run and, unless --no-write, writes them into `out` (BENCHMARKS.md for a full run). */
async function report(run, out) {
  const summary = summarizeResults(run.results);
  // `submit` compares variants of one target rather than targets: a table of its own.
  const table = buildTable(
    summary,
    run.cfg,
    run.scenarios.filter((scenario) => scenario.name !== SUBMIT.name && scenario.name !== OUTPUT.name),
  );
  const submitTable = SUBMIT.render(summary.submit, false);
  const outputTable = OUTPUT.render(summary.output, false);
  const goals = checkGoals(summary, run.cfg).filter((goal) => !goal.value.startsWith('–'));
  const otherLoad = summarize(
    Object.values(run.results).flatMap((byTarget) =>
      Object.values(byTarget)
        .flat()
        .map((m) => m.otherLoadPct),
    ),
  );
  if (table.sections.length > 0) console.log(`\n${renderText(table)}\n`);
  if (submitTable !== '') console.log(`${SUBMIT.title}\n${submitTable}\n`);
  if (outputTable !== '') console.log(`${OUTPUT.title}\n${outputTable}\n`);
  if (goals.length > 0) console.log(`${renderGoals(goals, false)}\n`);
  console.log(
    `${run.mode} run: ${run.elapsedMin.toFixed(1)} min; other processes took a median ` +
      `${formatNumber(otherLoad.median)}% (max ${formatNumber(otherLoad.max)}%) of the machine while units ran; ` +
      `${(run.quietWaitedMs / 1000).toFixed(1)} s spent waiting for a quiet machine.`,
  );
  for (const error of run.errors) console.log(`ERROR ${error}`);
  if (out !== undefined && !options['no-write']) {
    await writeSection(out, renderSection(run, { summary, table, goals, otherLoad }));
    console.log(`wrote ${out instanceof URL ? 'BENCHMARKS.md' : out}`);
  }
}

function renderSection(run, { summary, table, goals, otherLoad }) {
  const { machine: m, cfg: c } = run;
  const lines = [
    START_MARK,
    `## Results (${run.mode} run, ${m.date.slice(0, 10)})`,
    '',
    `Machine: ${m.cores} cores, ${m.cpu}, ${m.memoryGB} GB, Node ${m.node}, ${m.os}, ${m.date}. ` +
      `Open-file limit ${m.fileLimit}. Package built from ${run.source}. ` +
      `Run: \`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\`, ${c.passes} passes, ` +
      `${run.elapsedMin.toFixed(1)} min. While it ran, other processes on the machine took a median ` +
      `${formatNumber(otherLoad.median)}% (max ${formatNumber(otherLoad.max)}%) of its CPU (after waiting ` +
      `${(run.quietWaitedMs / 1000).toFixed(0)} s in all for quiet moments).`,
    '',
    `Each figure is the median of ${c.passes} passes${ownPasses(run)}, with the range (min–max); "× base" is that ` +
      "median divided by the baseline's median from the same run.",
    '',
  ];
  if (goals.length > 0) lines.push('### Goals', '', renderGoals(goals, true), '');
  lines.push('### All figures', '', renderMarkdown(table), '');
  if (summary.submit !== undefined) lines.push(`### ${SUBMIT.title}`, '', SUBMIT.render(summary.submit, true), '');
  if (summary.output !== undefined) lines.push(`### ${OUTPUT.title}`, '', OUTPUT.render(summary.output, true), '');
  if (summary.idle !== undefined) {
    lines.push('### Idle memory by step (medians, after a forced GC)', '', idleSteps(summary, c.idle.steps), '');
  }
  lines.push('### Parameters', '', '```json', JSON.stringify(c), '```', '');
  if (run.errors.length > 0) lines.push('### Errors', '', ...run.errors.map((e) => `- ${e}`), '');
  lines.push(END_MARK);
  return lines.join('\n');
}

/** ` (stalled: 1)`: the scenarios of the run that had a pass count of their own. */
function ownPasses(run) {
  const own = run.scenarios.filter((s) => passesOf(s, run.cfg) !== run.cfg.passes);
  return own.length === 0 ? '' : ` (${own.map((s) => `${s.name}: ${passesOf(s, run.cfg)}`).join(', ')})`;
}

function idleSteps(summary, steps) {
  const targets = Object.keys(summary.idle);
  const header = ['open streams', ...targets.map((t) => `${t} RSS / heap (MB)`)];
  const rows = [['before', ...targets.map((t) => `– / ${formatNumber(summary.idle[t]['heapMB@start']?.median)}`)]];
  for (const step of steps) {
    rows.push([
      String(step),
      ...targets.map(
        (t) =>
          `${formatNumber(summary.idle[t][`rssMB@${step}`]?.median)} / ${formatNumber(summary.idle[t][`heapMB@${step}`]?.median)}`,
      ),
    ]);
  }
  rows.push(['all closed', ...targets.map((t) => `– / ${formatNumber(summary.idle[t]['heapMB@closed']?.median)}`)]);
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '--:').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Replaces the generated section of the file (between the markers), keeping everything else as written. */
async function writeSection(out, section) {
  let text;
  try {
    text = await readFile(out, 'utf8');
  } catch {
    text = '# Benchmarks\n\n';
  }
  const start = text.indexOf(START_MARK);
  const end = text.indexOf(END_MARK);
  text =
    start !== -1 && end > start
      ? text.slice(0, start) + section + text.slice(end + END_MARK.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(out, text);
}

/**
 * --profile: the server's CPU profile during the measured part of the fan-out (every target), churn (baseline and
 * koa-sse-tasks) and stalled-client (koa-sse-tasks, without and with) scenarios, and what one idle stream holds on
 * the heap, by kind of object. `--only` picks among them.
 */
async function profile() {
  const dir = new URL('./profiles/', import.meta.url);
  await mkdir(dir, { recursive: true });
  for (const [name, targets] of [
    ['fanout', ['baseline', 'koa-sse-tasks', 'better-sse']],
    ['churn', ['baseline', 'koa-sse-tasks']],
    ['stalled', ['koa-sse-tasks']],
  ]) {
    if (only !== undefined && !only.includes(name)) continue;
    const scenario = SCENARIOS.find((s) => s.name === name);
    for (const target of targets) {
      for (const variant of scenario.variants ?? [undefined]) {
        const unit = [name, target, variant].filter((part) => part !== undefined).join('-');
        const file = new URL(`${unit}.cpuprofile`, dir).pathname;
        const { [target]: metrics } = await runUnit(scenario, [target], { profileFile: file, variant });
        const shown = HEADLINES[name].map((key) => `${key}=${formatNumber(metrics[key])}`).join(' ');
        console.log(`\n== ${unit}: ${shown} (profiled)`);
        console.log(renderProfile(unit, summarizeProfile(file)));
      }
    }
  }
  if (only !== undefined && !only.includes('idle')) return;
  const streams = 1000;
  for (const target of ['baseline', 'koa-sse-tasks', 'better-sse']) {
    const idleHeap = {
      name: 'idle-heap',
      run: async ({ server, client }) => {
        const { paths } = await server.call('prepare', { channels: 1 });
        const before = new URL(`idle-${target}-0.heapsnapshot`, dir).pathname;
        const after = new URL(`idle-${target}-${streams}.heapsnapshot`, dir).pathname;
        await server.call('heapSnapshot', { file: before });
        await client.call('open', {
          port: server.info.port,
          paths,
          count: streams,
          batch: 500,
          readyToken: READY_TOKEN[target],
        });
        await server.call('heapSnapshot', { file: after });
        return perStreamGrowth(heapByKind(before), heapByKind(after), streams);
      },
    };
    const { [target]: growth } = await runUnit(idleHeap, [target]);
    console.log(
      `\n== idle heap ${target}: ${formatNumber(growth.total)} bytes of objects per stream (self sizes), largest kinds:`,
    );
    for (const row of growth.rows) {
      console.log(
        `  ${formatNumber(row.bytesPerStream).padStart(7)} B  ${formatNumber(row.countPerStream).padStart(5)}×  ${row.key}`,
      );
    }
  }
}

if (options.render !== undefined) {
  // Re-render a saved run (bench/results/*-latest.json) without measuring again.
  const run = JSON.parse(await readFile(options.render, 'utf8'));
  await report(run, options.out ?? (run.mode === 'full' ? BENCHMARKS_MD : undefined));
} else {
  await checkFileLimit();
  if (options.profile) await profile();
  else await benchmark();
  // A complete run goes on with the multi-instance scenarios (bench/multi/run.mjs), in its own process.
  if (!options.profile && only === undefined && onlyTargets === undefined) await multiInstance();
}

async function multiInstance() {
  const args = [new URL('./multi/run.mjs', import.meta.url).pathname];
  if (options.quick) args.push('--quick');
  if (options.passes !== undefined) args.push(`--passes=${options.passes}`);
  if (options['no-write']) args.push('--no-write');
  else if (options.out !== undefined) args.push(`--out=${options.out}`);
  const { spawn } = await import('node:child_process');
  const code = await new Promise((resolve) =>
    spawn(process.execPath, args, { stdio: 'inherit' }).once('exit', (exitCode) => resolve(exitCode ?? 1)),
  );
  if (code !== 0) process.exitCode = code;
}
