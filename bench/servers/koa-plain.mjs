// Koa with only the JSON route: the baseline of the `overhead` scenario. It has no event streams.
import { createServer } from 'node:http';
import Koa from 'koa';
import { jsonRoute } from './json-route.mjs';

export async function createTarget() {
  const app = new Koa();
  app.use(jsonRoute);
  return {
    server: createServer(app.callback()),
    async prepare() {
      return { paths: [] };
    },
    publish() {},
    async finish() {},
    async counts() {
      return {};
    },
  };
}
