// Scenario "memory" (issue #20 item 5): does a Strapi instance's memory stay flat under the traffic
// where a leak would show? The playground app (Strapi 5.54, sqlite, NODE_ENV=production) with
// plugin::redis.rateLimit keyed per request (every request its own client, as many IPs would be)
// and plugin::redis.cache on the articles route, loaded for MEMORY_MINUTES (default 10) with a new
// query string on every request: each request is a new rate-limit key and a cache miss that stores
// a new entry (more than 100,000 distinct query strings in a 10-minute run on this machine). RSS is
// read from /proc every 30 s; the first minute is the warm-up. Reported: RSS at the end of the
// warm-up, at the end, the largest, and the growth from the warm-up's end to the end.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from '../lib/runner.mjs';
import { startStrapi, tempAppDir } from '../lib/strapi.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// one article without relations: a small entry per query string (the point is their number)
const ROUTE = '/api/articles?fields[0]=title&pagination[pageSize]=1';
const GOAL_GROWTH_MB = 10;
const SAMPLE_S = 30;

export const title = 'Memory: a Strapi instance under many distinct rate-limit keys and cached query strings';
export const unit = 'MB or requests';
export const target = `issue #20 goal: RSS flat after the warm-up (growth from the end of minute 1 to the end < ${GOAL_GROWTH_MB} MB)`;
export const method = () =>
  `Strapi 5.54 \`NODE_ENV=production\`, sqlite; \`GET ${ROUTE}&bench=<n>\`, a new query string and a new rate-limit key on every request; ` +
  `autocannon 50 connections for ${minutes()} min in ${SAMPLE_S} s segments, RSS read from /proc after each.`;

const minutes = () => Number(process.env.MEMORY_MINUTES ?? 10);
const rssMb = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

export async function measure({ redisUrl, opts }) {
  const total = opts.rounds === 1 ? 2 : minutes();
  const playground = await import(path.join(ROOT, 'scripts', 'playground.mjs'));
  await playground.install({ log: (line) => console.error(`[playground] ${line}`) });
  const dir = tempAppDir('memory');
  playground.createAppDir(dir);
  fs.writeFileSync(
    path.join(dir, 'middlewares-config.js'),
    `module.exports = (defaults) => [...defaults,
  { name: 'plugin::redis.rateLimit', config: { connection: 'default', prefixKey: 'bench-memory', interval: { min: 1 }, max: 1000000000, keyGenerator: (ctx) => String(ctx.query.bench) } },
  { name: 'plugin::redis.cache', config: { connection: 'default', prefix: 'bench:memory:', maxAge: 600000, contentTypes: ['api::article.article'] } },
];\n`,
  );
  const app = await startStrapi(
    dir,
    { REDIS_URL: redisUrl, PLAYGROUND_BENCH_SEED: '1', MIDDLEWARES_CONFIG: path.join(dir, 'middlewares-config.js') },
    { label: 'memory' },
  );
  const samples = [];
  let requests = 0;
  try {
    const seeded = await fetch(`${app.url}/api/bench-seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    if (seeded.status !== 200) throw new Error(`memory: seeding failed: ${seeded.status}`);
    samples.push({ s: 0, mb: rssMb(app.pid) });
    for (let s = SAMPLE_S; s <= total * 60; s += SAMPLE_S) {
      const r = await load(app.url + ROUTE, { connections: opts.connections, durationS: SAMPLE_S, distinct: true });
      requests += Math.round(r.rps * SAMPLE_S);
      samples.push({ s, mb: rssMb(app.pid) });
    }
  } finally {
    await app.stop();
  }
  const warm = samples.find((x) => x.s >= 60) ?? samples[samples.length - 1];
  const end = samples[samples.length - 1];
  const peak = Math.max(...samples.map((x) => x.mb));
  const growth = end.mb - warm.mb;
  const rows = [
    { name: 'rss-warm', what: 'RSS at the end of the first minute, MB', rps: warm.mb },
    { name: 'rss-end', what: `RSS after ${total} min, MB`, rps: end.mb, baselineOf: 'rss-warm', ratio: end.mb / warm.mb },
    { name: 'rss-peak', what: 'the largest RSS read, MB', rps: peak, baselineOf: 'rss-warm', ratio: peak / warm.mb },
    { name: 'requests', what: 'requests served: each a new rate-limit key and a newly stored cache entry', rps: requests },
  ];
  const note = `RSS every ${SAMPLE_S} s (MB): ${samples.map((x) => x.mb.toFixed(0)).join(', ')}. Growth after the warm-up: ${growth.toFixed(1)} MB (goal < ${GOAL_GROWTH_MB}: ${growth < GOAL_GROWTH_MB ? 'met' : 'not met'}).`;
  return { rows, pass: growth < GOAL_GROWTH_MB, note };
}
