// Bundles the React page (main.jsx) with esbuild, once, in memory: what `GET /react/app.js` serves. The hooks come
// from the package's own entry, as an app would import them (koa-sse-tasks/react, built in dist/).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

let bundled;

/** The page's script, built on first use. */
export function reactBundle() {
  bundled ??= build({
    entryPoints: [fileURLToPath(new URL('./main.jsx', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    alias: { 'koa-sse-tasks/react': fileURLToPath(import.meta.resolve('koa-sse-tasks/react')) },
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0].text);
  return bundled;
}
