// Checks what users get: publint and attw (Are the Types Wrong?) on the packed tarball, every entry of
// scripts/entries.mjs. Any finding fails, suggestions included, except the one we chose (below).
//
//   node scripts/check-package.mjs [koa-sse-tasks-x.y.z.tgz] [--json]
//
// Without a tarball it packs the package as it is (`npm pack --ignore-scripts`: build first, as
// `npm run check:package` does). Offline: neither tool asks the registry about a local tarball.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { ENTRIES } from './entries.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/**
 * The findings we chose. A `browser` entry (the client) is ES modules only, for pages and bundlers: attw reports a
 * `require()` of it under node16 as CJSResolvesToESM ("ESM, dynamic import only"), which is what it is. A CommonJS
 * build of it would be a second copy for no user; Node 20.19 and later can require() it anyway.
 */
function isAccepted(problem) {
  const entry = ENTRIES.find((e) => e.subpath === problem.entrypoint);
  return entry?.kind === 'browser' && problem.kind === 'CJSResolvesToESM' && problem.resolutionKind === 'node16-cjs';
}

function describe(problem) {
  const where = problem.entrypoint ?? problem.fileName ?? problem.typesFileName ?? problem.implementationFileName;
  return `${where}: ${problem.kind}${problem.resolutionKind ? ` (${problem.resolutionKind})` : ''}`;
}

async function runPublint(tarball) {
  const data = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
    strict: true,
  });
  return messages.map((message) => `${message.type} ${message.code}: ${formatMessage(message, pkg, { color: false })}`);
}

function runAttw(tarball) {
  const cliPackage = require.resolve('@arethetypeswrong/cli/package.json');
  const cli = path.join(path.dirname(cliPackage), require(cliPackage).bin.attw);
  // Into a file, not a pipe: attw ends with process.exit(), which cuts a piped stdout short once the JSON outgrows
  // the pipe's buffer (it does with eight entries); writes to a file are synchronous, so none is lost.
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'koa-sse-tasks-attw-')), 'attw.json');
  const fd = openSync(file, 'w');
  try {
    execFileSync(process.execPath, [cli, tarball, '--format', 'json'], { stdio: ['ignore', fd, 'pipe'] });
  } catch (error) {
    if (error.status !== 1) throw error; // attw exits 1 when it found a problem, accepted or not
  } finally {
    closeSync(fd);
  }
  const { analysis } = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(path.dirname(file), { recursive: true, force: true });
  const found = Object.keys(analysis.entrypoints).sort();
  const listed = [...ENTRIES.map((e) => e.subpath), './package.json'].sort();
  const problems = analysis.problems.filter((p) => !isAccepted(p)).map(describe);
  if (found.join() !== listed.join())
    problems.push(`entrypoints: attw found ${found.join(', ')}, scripts/entries.mjs lists ${listed.join(', ')}`);
  return { problems, accepted: analysis.problems.filter(isAccepted).map(describe) };
}

const args = process.argv.slice(2);
let tarball = args.find((arg) => !arg.startsWith('--'));
let packDir;
if (tarball === undefined) {
  packDir = mkdtempSync(path.join(tmpdir(), 'koa-sse-tasks-pack-'));
  const [{ filename }] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], {
      cwd: root,
      encoding: 'utf8',
    }),
  );
  tarball = path.join(packDir, filename);
}
try {
  const attw = runAttw(tarball);
  const report = { tarball, publint: await runPublint(tarball), attw: attw.problems, accepted: attw.accepted };
  if (args.includes('--json')) console.log(JSON.stringify(report, null, 2));
  else {
    for (const line of report.publint) console.log(`publint: ${line}`);
    for (const line of report.attw) console.log(`attw: ${line}`);
    for (const line of report.accepted) console.log(`attw, accepted: ${line} (ES modules only, for browsers)`);
    if (report.publint.length + report.attw.length === 0) console.log(`publint and attw: nothing found in ${tarball}`);
  }
  process.exitCode = report.publint.length + report.attw.length === 0 ? 0 : 1;
} finally {
  if (packDir) rmSync(packDir, { recursive: true, force: true });
}
