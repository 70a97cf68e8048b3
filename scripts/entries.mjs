// The package's entries, written down once. scripts/build.mjs builds them, package.json's `main`, `types`,
// `exports` and `typesVersions` are derived from them (`node scripts/entries.mjs --write` writes those fields, and
// __tests__/package/pack.test.ts fails when they disagree), and scripts/check-package.mjs checks each in the tarball.
// A new entry is one more line here, then `node scripts/entries.mjs --write`.
//
// kind `node`:    src/<file>.ts compiled to CommonJS (dist/<file>.js, .d.ts) plus an ES module wrapper over the
//                 same CommonJS (dist/<file>.mjs, .d.mts), so `import` and `require` share one class.
// kind `browser`: plain ES modules for pages and bundlers (dist/<file>.js, .d.ts, under a `"type": "module"`
//                 folder), with no CommonJS build: a `require()` of it works only where Node can require ES modules
//                 (20.19 and later), which is why check-package.mjs accepts attw's CJSResolvesToESM for it.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ENTRIES = [
  { subpath: '.', file: 'index', kind: 'node' },
  { subpath: './redis', file: 'redis', kind: 'node' },
  { subpath: './bullmq', file: 'bullmq', kind: 'node' },
  { subpath: './postgres', file: 'postgres', kind: 'node' },
  { subpath: './metrics', file: 'metrics', kind: 'node' },
  { subpath: './client', file: 'client/index', kind: 'browser' },
  { subpath: './react', file: 'react/index', kind: 'browser' },
];

/** The `exports` value of one entry: types first in every condition, as TypeScript reads them in order. */
export function exportsOf({ file, kind }) {
  const dist = `./dist/${file}`;
  if (kind === 'browser') return { types: `${dist}.d.ts`, default: `${dist}.js` };
  return {
    import: { types: `${dist}.d.mts`, default: `${dist}.mjs` },
    require: { types: `${dist}.d.ts`, default: `${dist}.js` },
  };
}

/** The files an entry's `exports` names, relative to dist/. */
export function targetsOf(entry) {
  const values = (value) => (typeof value === 'string' ? [value] : Object.values(value).flatMap(values));
  return values(exportsOf(entry)).map((target) => target.replace('./dist/', ''));
}

/** The fields of package.json that follow from ENTRIES. */
export function packageFields() {
  const root = ENTRIES.find((entry) => entry.subpath === '.');
  const subpaths = ENTRIES.filter((entry) => entry !== root);
  return {
    main: `./dist/${root.file}.js`,
    types: `./dist/${root.file}.d.ts`,
    exports: {
      ...Object.fromEntries(ENTRIES.map((entry) => [entry.subpath, exportsOf(entry)])),
      './package.json': './package.json',
    },
    // For TypeScript's node10 resolution, which ignores `exports`.
    typesVersions: {
      '*': Object.fromEntries(subpaths.map((entry) => [entry.subpath.slice(2), [`./dist/${entry.file}.d.ts`]])),
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fields = packageFields();
  if (process.argv.includes('--write')) {
    const file = new URL('../package.json', import.meta.url);
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, `${JSON.stringify({ ...pkg, ...fields }, null, 2)}\n`);
  } else {
    const entries = ENTRIES.map((entry) => ({ ...entry, targets: targetsOf(entry) }));
    console.log(JSON.stringify({ entries, fields }, null, 2));
  }
}
