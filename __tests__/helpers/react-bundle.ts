import path from 'node:path';
import { build } from 'esbuild';

/** The React versions the hooks are tested with: the root's, and 18 from the workspace __tests__/fixtures/react18. */
export const REACT_VERSIONS = {
  19: path.resolve(__dirname, '../../node_modules'),
  18: path.resolve(__dirname, '../fixtures/react18/node_modules'),
} as const;

export type ReactVersion = keyof typeof REACT_VERSIONS;

/**
 * Bundles the hooks' test page (e2e/browser/fixtures/react-harness.ts, importing the hooks' sources) with one
 * version of React, as an app's bundler would: one ES module the page loads.
 */
export async function bundleHarness(version: ReactVersion): Promise<string> {
  const modules = REACT_VERSIONS[version];
  const result = await build({
    entryPoints: [path.resolve(__dirname, '../e2e/browser/fixtures/react-harness.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"development"' },
    alias: {
      react: path.join(modules, 'react'),
      'react-dom': path.join(modules, 'react-dom'),
    },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
