// Scenario "locks": one lock acquire + release round trip through the suite's LockService against
// raw redlock on the same server, and the cron guard's cost per tick (claim + run lock + release)
// around a task that does nothing, against calling that task directly. Measured in-process,
// sequentially (latency, not throughput), interleaved in rounds.
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { CronGuard, createRedisRegistry } from '../../dist/index.mjs';

const require = createRequire(import.meta.url);
const Redlock = require('redlock').default;

export const title = 'Locks: acquire + release round trip, and the cron guard per tick';
export const target = 'suite lock p99 within 1.5x of raw redlock; guarded tick p99 < 5 ms';
export const unit = 'ops/s';
export const method = 'In-process, one operation at a time (latency), variants interleaved in rounds; median of rounds.';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function sample(n, op) {
  const lat = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    lat.push(performance.now() - t);
  }
  return { rps: n / ((performance.now() - start) / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export async function measure({ redisUrl, quick }) {
  const n = quick ? 500 : 3000;
  const rounds = quick ? 1 : 3;
  const registry = createRedisRegistry({ settings: { lockTTL: 5000 }, connections: { default: { connection: redisUrl } } }, { logger: quiet });
  await registry.waitUntilReady();
  const raw = new Redis(redisUrl);
  const redlock = new Redlock([raw], { retryCount: 0 });
  redlock.on('error', () => {});
  const guard = new CronGuard({ locks: registry.locks, log: { ...quiet, debugEnabled: false }, lockTTL: 5000 });
  const noop = async () => {};
  const guarded = guard.wrap('bench-noop', { options: '* * * * * *', task: noop }, {});
  let tick = Date.UTC(2030, 0, 1);
  const variants = {
    redlock: () => sample(n, async (i) => (await redlock.acquire([`bench:raw:${i % 50}`], 5000)).release()),
    suite: () => sample(n, async (i) => (await registry.locks.acquire(`bench:suite:${i % 50}`, { wait: false })).release()),
    'task-direct': () => sample(n, () => noop({}, new Date())),
    'task-guarded': () => sample(n, () => guarded.task({}, new Date((tick += 1000)))),
  };
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [k, run] of Object.entries(variants)) samples[k].push(await run());
  // sanity: every guarded call really claimed its tick and ran the task
  if (guard.stats.runs !== n * rounds) throw new Error(`guard ran ${guard.stats.runs} of ${n * rounds} ticks: ${JSON.stringify(guard.stats)}`);
  await raw.quit();
  await registry.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (name, what, baseline) => {
    const s = samples[name];
    return { name, what, baselineOf: baseline, rps: median(s.map((x) => x.rps)), p50: median(s.map((x) => x.p50)), p99: median(s.map((x) => x.p99)) };
  };
  const rows = [
    row('redlock', 'raw `redlock` 5 acquire + release, one ioredis client'),
    row('suite', 'LockService acquire + release (bounded, fencing token)', 'redlock'),
    row('task-direct', 'a no-op task called directly'),
    row('task-guarded', 'the same task through the cron guard (tick claim + run lock + release)', 'task-direct'),
  ];
  for (const r of rows) r.ratio = r.baselineOf ? r.rps / rows.find((b) => b.name === r.baselineOf).rps : 1;
  const suite = rows[1];
  const redl = rows[0];
  const guardedRow = rows[3];
  return { rows, pass: suite.p99 <= redl.p99 * 1.5 && guardedRow.p99 < 5 };
}
