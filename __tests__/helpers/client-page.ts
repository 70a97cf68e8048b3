import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type Koa from 'koa';

/** The browser client as built (npm test builds first): dist/client/. */
const CLIENT_DIR = path.resolve(__dirname, '../../dist/client');

/** Removes EventSource before any module runs (classic scripts run before module scripts), in every engine. */
const WITHOUT_EVENTSOURCE = '<script>delete window.EventSource;</script>';

/**
 * Serves `/page`, an empty page that imports the built client as `window.client`, and `/client/*.js`: mount it after
 * sseTasks() in a test app, then drive `window.client.watchTask()` from the browser. `/page?eventsource=none` is the
 * same page in a browser without EventSource.
 */
export const clientPage: Koa.Middleware = async (ctx, next) => {
  if (ctx.path === '/page') {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body =
      '<!doctype html><meta charset="utf-8"><title>client</title>' +
      (ctx.querystring === 'eventsource=none' ? WITHOUT_EVENTSOURCE : '') +
      '<script type="module">import * as client from "/client/index.js"; window.client = client;</script>';
    return;
  }
  const match = /^\/client\/([a-z-]+)\.js$/.exec(ctx.path);
  if (match === null) {
    await next();
    return;
  }
  ctx.type = 'text/javascript; charset=utf-8';
  ctx.body = await readFile(path.join(CLIENT_DIR, `${match[1]}.js`));
};
