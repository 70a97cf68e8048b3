// The plain JSON route every Koa target serves, for the `overhead` scenario.
const BODY = Object.freeze({ ok: true, service: 'bench', items: [1, 2, 3] });

export async function jsonRoute(ctx, next) {
  if (ctx.path !== '/json') return next();
  ctx.body = BODY;
}
