// Builds dist/: CommonJS + .d.ts from tsc, then a thin ES module wrapper over the same
// CommonJS code, so `import` and `require` share one TaskRunner class (no dual-package hazard);
// and dist/client/, the browser client as plain ES modules. The entries are the list in scripts/entries.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTRIES, targetsOf } from './entries.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

// Build beside dist/ and swap it in at the end, so a demo or test running meanwhile never finds it missing.
const next = new URL('../dist.next/', import.meta.url);
rmSync(next, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', 'dist.next'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

for (const { file: entry } of ENTRIES.filter((e) => e.kind === 'node')) {
  const names = Object.keys(require(`../dist.next/${entry}.js`)).filter((n) => n !== 'default' && n !== '__esModule');
  const body = [
    `import cjs from './${path.basename(entry)}.js';`,
    `export const { ${names.join(', ')} } = cjs;`,
    '',
  ].join('\n');
  writeFileSync(new URL(`${entry}.mjs`, next), body);
  writeFileSync(new URL(`${entry}.d.mts`, next), `export * from './${path.basename(entry)}.js';\n`);
}

// The browser entries (koa-sse-tasks/client, koa-sse-tasks/react): ES modules, for pages and bundlers. The client
// imports nothing at run time, so a page loads it as it is; the hooks import `react` and the client (../client/).
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.client.json', '--outDir', 'dist.next/.client'],
  { cwd: root, stdio: 'inherit' },
);
for (const folder of new Set(ENTRIES.filter((e) => e.kind === 'browser').map((e) => e.file.split('/')[0]))) {
  renameSync(new URL(`.client/${folder}/`, next), new URL(`${folder}/`, next));
  writeFileSync(new URL(`${folder}/package.json`, next), `${JSON.stringify({ type: 'module' })}\n`);
}
rmSync(new URL('.client/', next), { recursive: true, force: true });

// Every file that package.json `exports` names, so an entry added to the list but not to the sources fails here.
const missing = ENTRIES.flatMap(targetsOf).filter((target) => !existsSync(new URL(target, next)));
if (missing.length > 0) throw new Error(`The build made no ${missing.join(', ')}: is the entry's source in src/?`);

const old = new URL('../dist.old/', import.meta.url);
rmSync(old, { recursive: true, force: true });
if (existsSync(new URL('../dist/', import.meta.url))) renameSync(new URL('../dist/', import.meta.url), old);
renameSync(next, new URL('../dist/', import.meta.url));
rmSync(old, { recursive: true, force: true });
