// Scenario "boot" (issue #20 item 2): what the plugin adds to a Strapi boot. The playground app
// (Strapi 5.54, sqlite, NODE_ENV=production) booted again and again, two variants interleaved:
//   without: the plugin disabled (PLAYGROUND_REDIS_OFF), GraphQL on with Apollo's in-memory cache,
//            Strapi's default middlewares, session and login limiters, the same cron task file
//            minus the guard (cron runs, unguarded);
//   with:    every feature configured, as `npm run demo` runs it (scripts/demo/config): the cron
//            guard (enableRedlock), plugin::redis.rateLimit, .session and .cache, the Apollo cache
//            in Redis, RedisRateLimitStore for the admin and users-permissions login limiters.
// Each variant has its own app folder and database, booted once unmeasured (schema creation),
// then BOOTS times each, alternating which goes first. Measured: spawn to the first HTTP answer
// (polled every 10 ms), and the process' RSS 2 s after that answer. Medians.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStrapi, tempAppDir } from '../lib/strapi.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEMO_CONFIG = (file) => path.join(ROOT, 'scripts', 'demo', 'config', file);
const GOAL_MS = 150;
const GOAL_MB = 15;

export const title = 'Boot: the playground Strapi with the plugin (every feature configured) vs without it';
export const unit = 'ms or MB';
export const target = `issue #20 goal: the plugin adds < ${GOAL_MS} ms to the boot (spawn to first answer) and < ${GOAL_MB} MB of RSS after boot (medians)`;
export const method = (opts) =>
  `Strapi 5.54 \`NODE_ENV=production\`, sqlite, one app process at a time; ${opts.rounds === 1 ? 3 : 7} boots per variant, interleaved (median); ` +
  'boot = spawn of `node server.js` to the first answer of `/_health` (polled every 10 ms); RSS from /proc 2 s after that answer.';

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function measure({ redisUrl, opts }) {
  const boots = opts.rounds === 1 ? 3 : 7;
  const playground = await import(path.join(ROOT, 'scripts', 'playground.mjs'));
  await playground.install({ log: (line) => console.error(`[playground] ${line}`) });
  const plainGraphql = path.join(tempAppDir('boot-graphql'), 'graphql.js');
  fs.writeFileSync(plainGraphql, 'module.exports = { defaultLimit: 25, maxLimit: 100, depthLimit: 10 };\n');
  const plainCron = path.join(path.dirname(plainGraphql), 'cron-tasks.js');
  fs.writeFileSync(plainCron, "module.exports = { demoTick: { options: { rule: '*/10 * * * * *' }, async task() {} } };\n");
  const variants = {
    without: { PLAYGROUND_REDIS_OFF: '1', GRAPHQL_PLUGIN_CONFIG: plainGraphql, CRON_TASKS_CONFIG: plainCron },
    with: {
      DEMO_REDIS_CONNECTION: JSON.stringify(redisUrl),
      REDIS_PLUGIN_CONFIG: DEMO_CONFIG('redis.js'),
      MIDDLEWARES_CONFIG: DEMO_CONFIG('middlewares.js'),
      GRAPHQL_PLUGIN_CONFIG: DEMO_CONFIG('graphql.js'),
      ADMIN_RATELIMIT_CONFIG: DEMO_CONFIG('admin-ratelimit.js'),
      UP_RATELIMIT_CONFIG: DEMO_CONFIG('auth-ratelimit.js'),
      CRON_TASKS_CONFIG: DEMO_CONFIG('cron-tasks.js'),
    },
  };
  const dirs = {};
  const samples = { without: { ms: [], mb: [] }, with: { ms: [], mb: [] } };
  try {
    for (const name of Object.keys(variants)) {
      dirs[name] = tempAppDir(`boot-${name}`);
      playground.createAppDir(dirs[name]);
      const first = await startStrapi(dirs[name], variants[name], { label: `boot-${name}`, keepDir: true, timeoutMs: 300_000 });
      await first.stop();
    }
    for (let i = 0; i < boots; i++) {
      const order = i % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
      for (const name of order) {
        const app = await startStrapi(dirs[name], variants[name], { label: `boot-${name}`, keepDir: true, pollMs: 10 });
        await new Promise((r) => setTimeout(r, 2000));
        samples[name].ms.push(app.bootMs);
        samples[name].mb.push(rssMb(app.pid));
        await app.stop();
      }
    }
  } finally {
    for (const dir of Object.values(dirs)) fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.dirname(plainGraphql), { recursive: true, force: true });
  }
  const ms = { without: median(samples.without.ms), with: median(samples.with.ms) };
  const mb = { without: median(samples.without.mb), with: median(samples.with.mb) };
  const rows = [
    { name: 'boot-without', what: 'boot to first answer, ms: the app without the plugin', rps: ms.without },
    {
      name: 'boot-with',
      what: 'boot to first answer, ms: every feature of the plugin configured',
      rps: ms.with,
      baselineOf: 'boot-without',
      ratio: ms.with / ms.without,
    },
    { name: 'rss-without', what: 'RSS 2 s after the first answer, MB: without the plugin', rps: mb.without },
    { name: 'rss-with', what: 'RSS 2 s after the first answer, MB: with every feature', rps: mb.with, baselineOf: 'rss-without', ratio: mb.with / mb.without },
  ];
  const addedMs = ms.with - ms.without;
  const addedMb = mb.with - mb.without;
  const spread = (xs) => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))}`;
  const note =
    `The plugin adds ${addedMs.toFixed(0)} ms (goal < ${GOAL_MS}: ${addedMs < GOAL_MS ? 'met' : 'not met'}) and ${addedMb.toFixed(1)} MB (goal < ${GOAL_MB}: ${addedMb < GOAL_MB ? 'met' : 'not met'}). ` +
    `Boots ms, without ${spread(samples.without.ms)}, with ${spread(samples.with.ms)}; RSS MB, without ${spread(samples.without.mb)}, with ${spread(samples.with.mb)}.`;
  return { rows, pass: addedMs < GOAL_MS && addedMb < GOAL_MB, note };
}
