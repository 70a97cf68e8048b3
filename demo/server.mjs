// Starts the demo: `npm run demo`, then open the printed URL. One process, tasks in memory.
// Environment: PORT (default 3000; 0 picks a free port), HOST (default 127.0.0.1),
// DEMO_STEP_MS (how long each report step takes, default 700), DEMO_WORD_MS (the pause between two words of a
// summary, default 60), REPORTS_DIR (default demo/reports/).
// `npm run demo:redis` (redis.mjs) runs the same app as two web instances and a worker sharing Redis.
import { createDemoApp, DEMO_DEFAULTS } from './app.mjs';
import { integerEnv, listen, onStop, stopWeb } from './serve.mjs';

const port = integerEnv('PORT', 3000);
const host = process.env.HOST || '127.0.0.1';
const stepDelayMs = integerEnv('DEMO_STEP_MS', DEMO_DEFAULTS.stepDelayMs);
const wordDelayMs = integerEnv('DEMO_WORD_MS', DEMO_DEFAULTS.wordDelayMs);
const reportsDir = process.env.REPORTS_DIR || DEMO_DEFAULTS.reportsDir;

const demo = createDemoApp({ reportsDir, stepDelayMs, wordDelayMs });
const listening = listen(demo.app, port, host);
onStop(async () => {
  const { server } = await listening;
  await stopWeb({ server, ...demo });
  console.log('demo stopped');
});
console.log(`listening on ${(await listening).url}`);
