// Builds dist/: CommonJS + .d.ts from tsc, then a thin ES module wrapper over the same
// CommonJS code, so `import` and `require` share one TaskRunner class (no dual-package hazard).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
  cwd: root,
  stdio: 'inherit',
});

for (const entry of ['index', 'redis', 'bullmq']) {
  const names = Object.keys(require(`../dist/${entry}.js`)).filter((n) => n !== 'default' && n !== '__esModule');
  const body = [
    `import cjs from './${entry}.js';`,
    `export const { ${names.join(', ')} } = cjs;`,
    '',
  ].join('\n');
  writeFileSync(new URL(`../dist/${entry}.mjs`, import.meta.url), body);
  writeFileSync(new URL(`../dist/${entry}.d.mts`, import.meta.url), `export * from './${entry}.js';\n`);
}
