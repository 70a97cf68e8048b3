// The machine the benchmark runs on, and how busy other processes kept it while it ran.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function describeMachine() {
  const cpus = os.cpus();
  let ticks = 100;
  try {
    ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    // not Linux: keep the usual 100
  }
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    clockTicks: ticks,
  };
}

/** The commit the package was built from, and whether src/ had uncommitted changes (the bench builds the tree). */
export function describeSource() {
  try {
    const git = (...args) =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src', 'package.json') !== '';
    return dirty ? `${commit} + uncommitted changes in src/` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** CPU time the whole machine spent in user and system mode so far, in µs (Linux /proc/stat), or undefined. */
function machineBusyUs(clockTicks) {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0] = fields;
    return ((user + nice + system) * 1e6) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * Measures how much CPU *other* processes took during a measurement: machine user+system time minus what our
 * processes report. `stop(ourCpuUs)` returns it as a share of the machine (0..1), or NaN off Linux.
 */
export function startLoadMeter({ clockTicks, cores }) {
  const busy = machineBusyUs(clockTicks);
  const started = performance.now();
  return {
    stop(ourCpuUs) {
      const now = machineBusyUs(clockTicks);
      if (busy === undefined || now === undefined) return NaN;
      const elapsedUs = (performance.now() - started) * 1000;
      return Math.max(0, (now - busy - ourCpuUs) / (elapsedUs * cores));
    },
  };
}
