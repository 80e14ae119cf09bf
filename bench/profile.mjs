// npm run bench:profile: where the Apollo server's time goes with one persisted query and with
// 1,000 (issue #20), with the suite's Redis cache and with Apollo's in-memory cache. Each variant
// gets a fresh server; a CPU profile (node:inspector) is taken around one 8 s load of 50
// connections, and its self time is shown per group (package, Node, GC, idle) in µs per request.
// Prints a Markdown table; the figures belong in BENCHMARKS.md with the load average.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { compareProfiles, profileByGroup } from './lib/cpuprofile.mjs';
import { startRedis } from './lib/redis.mjs';
import { load, startServer } from './lib/runner.mjs';
import { persisted, persistedTexts, registerAll } from './scenarios/apollo.mjs';

const variants = [
  { name: 'ours, 1 query', server: 'ours', many: false },
  { name: 'ours, 1,000', server: 'ours', many: true },
  { name: 'in-memory, 1 query', server: 'memory', many: false },
  { name: 'in-memory, 1,000', server: 'memory', many: true },
];
const durationS = Number(process.env.BENCH_PROFILE_SECONDS ?? 8);
const before = os.loadavg()[0];
const redis = await startRedis();
const runs = [];
try {
  const texts = persistedTexts();
  for (const v of variants) {
    const server = await startServer(fileURLToPath(new URL('./scenarios/apollo-server.mjs', import.meta.url)), { REDIS_URL: redis.url, BENCH_PROFILE: '1' });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      await registerAll(base, texts, v.server);
      const paths = v.many ? texts.map((t) => persisted(t, v.server)) : [persisted(texts[0], v.server)];
      await load(base + paths[0], { connections: 50, durationS: 1, paths }); // warm-up
      await fetch(`${base}/__profile/start`);
      const r = await load(base + paths[0], { connections: 50, durationS, paths });
      const profile = await (await fetch(`${base}/__profile/stop`)).json();
      const { ms, total } = profileByGroup(profile);
      runs.push({ name: v.name, requests: r.total, rps: r.rps, ms, total });
      console.error(`${v.name}: ${r.total} requests, ${r.rps.toFixed(0)} req/s, profile ${total.toFixed(0)} ms`);
    } finally {
      await server.stop();
    }
  }
} finally {
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
