// better-sse on Koa, as its Koa recipe documents (ctx.respond = false; createSession(ctx.req, ctx.res)), one
// broadcast channel per channel; data is the same { percent, message: `${seq}:${hrtime}` }. Streams: GET /sse/<n>.
import { createServer } from 'node:http';
import Router from '@koa/router';
import { createChannel, createSession } from 'better-sse';
import Koa from 'koa';
import { jsonRoute } from './json-route.mjs';

export async function createTarget() {
  let channels = [];
  /** The Node responses, so finish() can end them: better-sse 0.16 has no session.close(). */
  const responses = new Set();

  const router = new Router();
  router.get('/sse/:channel', async (ctx) => {
    const channel = channels[Number(ctx.params.channel)];
    if (channel === undefined) {
      ctx.status = 404;
      return;
    }
    // Koa starts every response as 404 and better-sse copies res.statusCode: without this the recipe answers 404.
    ctx.status = 200;
    ctx.respond = false;
    const res = ctx.res;
    responses.add(res);
    res.once('close', () => responses.delete(res));
    const session = await createSession(ctx.req, res);
    if (session.isConnected) channel.register(session);
  });

  const app = new Koa();
  app.use(router.routes());
  app.use(jsonRoute);

  return {
    server: createServer(app.callback()),
    async prepare({ channels: count }) {
      channels = Array.from({ length: count }, () => createChannel());
      return { paths: channels.map((_, n) => `/sse/${n}`) };
    },
    publish(channel, seq, percent, pad = '') {
      const data = { percent, message: `${seq}:${process.hrtime.bigint()}${pad}` };
      channels[channel].broadcast(data, 'progress', { eventId: String(seq) });
    },
    async finish() {
      channels = [];
      for (const res of [...responses]) res.end();
    },
    async counts() {
      let sessions = 0;
      for (const channel of channels) sessions += channel.sessionCount;
      return { sessions, responses: responses.size };
    },
  };
}
