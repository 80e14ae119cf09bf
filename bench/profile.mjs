// npm run bench:profile [-- apollo|ratelimit]: where a bench server's time goes (issue #20), from a
// CPU profile (node:inspector) around one 8 s load of 50 connections per variant, its self time
// shown per group (package, Node, GC, idle) in µs per request.
// - apollo (the default): the Apollo server with one persisted query and with 1,000, with the
//   suite's Redis cache and with Apollo's in-memory cache; a fresh server per variant.
// - ratelimit: bare Koa, `rateLimit()` with every request on its own key, and
//   rate-limiter-flexible on the same keys; one server, the variants one after another.
// Prints a Markdown table; the figures belong in BENCHMARKS.md with the load average.
// BENCH_PROFILE_SECONDS sets the load's length; BENCH_PROFILE_DUMP=<path prefix> also writes each
// variant's profile to <prefix>-<n>.cpuprofile (opens in Chrome DevTools) for a per-function view.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { compareProfiles, profileByGroup } from './lib/cpuprofile.mjs';
import { startRedis } from './lib/redis.mjs';
import { load, startServer } from './lib/runner.mjs';
import { persisted, persistedTexts, registerAll } from './scenarios/apollo.mjs';

const mode = process.argv[2] ?? 'apollo';
const durationS = Number(process.env.BENCH_PROFILE_SECONDS ?? 8);
/** What to stop at the end (a server the variants share). */
const cleanups = [];
const scriptOf = (name) => fileURLToPath(new URL(`./scenarios/${name}-server.mjs`, import.meta.url));

/** Each variant: its name, and `prepare(redisUrl)` giving the server to profile, the paths to load and whether to stop the server after. */
const modes = {
  apollo: () => {
    const texts = persistedTexts();
    return [
      { name: 'ours, 1 query', server: 'ours', many: false },
      { name: 'ours, 1,000', server: 'ours', many: true },
      { name: 'in-memory, 1 query', server: 'memory', many: false },
      { name: 'in-memory, 1,000', server: 'memory', many: true },
    ].map((v) => ({
      name: v.name,
      async prepare(redisUrl) {
        const server = await startServer(scriptOf('apollo'), { REDIS_URL: redisUrl, BENCH_PROFILE: '1' });
        const base = `http://127.0.0.1:${server.port}`;
        await registerAll(base, texts, v.server);
        return { server, base, paths: v.many ? texts.map((t) => persisted(t, v.server)) : [persisted(texts[0], v.server)], own: true };
      },
    }));
  },
  ratelimit: () => {
    let shared;
    const on = (path) => async (redisUrl) => {
      if (!shared) {
        shared = await startServer(scriptOf('ratelimit'), { REDIS_URL: redisUrl, BENCH_PROFILE: '1' });
        cleanups.push(() => shared.stop());
      }
      return { server: shared, base: `http://127.0.0.1:${shared.port}`, paths: [path], own: false };
    };
    return [
      { name: 'bare Koa', prepare: on('/baseline') },
      { name: 'ours, own keys', prepare: on('/redis-distinct') },
      { name: 'flexible, own keys', prepare: on('/flexible-distinct') },
    ];
  },
};
if (!modes[mode]) throw new Error(`bench:profile: unknown mode "${mode}" (apollo or ratelimit)`);
const variants = modes[mode]();

const before = os.loadavg()[0];
const redis = await startRedis();
const runs = [];
try {
  for (const v of variants) {
    const { server, base, paths, own } = await v.prepare(redis.url);
    try {
      await load(base + paths[0], { connections: 50, durationS: 1, paths }); // warm-up
      await fetch(`${base}/__profile/start`);
      const r = await load(base + paths[0], { connections: 50, durationS, paths });
      const profile = await (await fetch(`${base}/__profile/stop`)).json();
      if (process.env.BENCH_PROFILE_DUMP) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(`${process.env.BENCH_PROFILE_DUMP}-${runs.length}.cpuprofile`, JSON.stringify(profile));
      }
      const { ms, total } = profileByGroup(profile);
      runs.push({ name: v.name, requests: r.total, rps: r.rps, ms, total });
      console.error(`${v.name}: ${r.total} requests, ${r.rps.toFixed(0)} req/s, profile ${total.toFixed(0)} ms`);
    } finally {
      if (own) await server.stop();
    }
  }
} finally {
  for (const stop of cleanups) await stop();
  await redis.stop();
}
const rows = compareProfiles(runs);
const shown = rows.filter((row) => Math.max(...row.slice(1)) >= 1);
console.log(`Load average ${before.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after; ${durationS} s per variant, 50 connections.\n`);
console.log(`| µs per request (self time) | ${runs.map((r) => r.name).join(' | ')} |`);
console.log(`| --- |${runs.map(() => ' ---: |').join('')}`);
console.log(`| requests/s | ${runs.map((r) => r.rps.toFixed(0)).join(' | ')} |`);
for (const [group, ...us] of shown) console.log(`| ${group} | ${us.map((u) => u.toFixed(1)).join(' | ')} |`);
const busy = (r) => ((r.total - (r.ms.get('(idle)') ?? 0)) * 1000) / r.requests;
console.log(`| **busy (all but idle)** | ${runs.map((r) => busy(r).toFixed(1)).join(' | ')} |`);
