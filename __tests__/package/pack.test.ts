import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// What `npm publish` would upload, packed from dist/ as it is (npm test builds first), checked by the same script as
// `npm run check:package`. No registry is asked: npm packs locally, and publint and attw read the tarball.
const root = path.resolve(__dirname, '../..');

interface Entry {
  subpath: string;
  kind: 'node' | 'browser';
  /** The files its `exports` names, relative to dist/. */
  targets: string[];
}

/** scripts/entries.mjs: the list of entries, and the package.json fields that follow from it. */
const list = JSON.parse(execFileSync(process.execPath, ['scripts/entries.mjs'], { cwd: root, encoding: 'utf8' })) as {
  entries: Entry[];
  fields: Record<string, unknown>;
};

/** What a user gets and nothing else: the built code and types, and the readme, changelog and licence. */
const SHIPPED =
  /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|dist\/.+\.(js|mjs|d\.ts|d\.mts)|dist\/(client|react)\/package\.json)$/;

/** scripts/check-package.mjs's report on the tarball, also when it exits 1 for a finding. */
function checkPackage(file: string): string {
  try {
    return execFileSync(process.execPath, ['scripts/check-package.mjs', file, '--json'], {
      cwd: root,
      encoding: 'utf8',
    });
  } catch (error) {
    const { stdout } = error as { stdout?: string };
    if (stdout?.startsWith('{')) return stdout;
    throw error;
  }
}

let packDir: string;
let tarball: string;
let files: string[];

beforeAll(() => {
  packDir = mkdtempSync(path.join(tmpdir(), 'koa-sse-tasks-pack-'));
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], {
      cwd: root,
      encoding: 'utf8',
    }),
  ) as [{ filename: string; files: { path: string }[] }];
  tarball = path.join(packDir, packed.filename);
  files = packed.files.map((file) => file.path);
});

afterAll(() => rmSync(packDir, { recursive: true, force: true }));

describe('the packed package', () => {
  it('has main, types, exports and typesVersions as scripts/entries.mjs derives them (fix: node scripts/entries.mjs --write)', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    const fields = Object.fromEntries(Object.keys(list.fields).map((key) => [key, pkg[key]]));
    expect(fields).toEqual(list.fields);
  });

  it('holds every file that exports names', () => {
    const missing = list.entries.flatMap((entry) => entry.targets.map((target) => `dist/${target}`));
    expect(missing.filter((file) => !files.includes(file))).toEqual([]);
  });

  it('holds the readme, the changelog and the licence, and no tests, source maps or build leftovers', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']));
    expect(files.filter((file) => !SHIPPED.test(file))).toEqual([]);
  });

  it('passes publint and attw, but for the client being ES modules only', () => {
    const report = JSON.parse(checkPackage(tarball)) as { publint: string[]; attw: string[]; accepted: string[] };
    expect({ publint: report.publint, attw: report.attw }).toEqual({ publint: [], attw: [] });
    const browser = list.entries.filter((entry) => entry.kind === 'browser');
    expect(report.accepted).toEqual(browser.map((entry) => `${entry.subpath}: CJSResolvesToESM (node16-cjs)`));
  });
});
