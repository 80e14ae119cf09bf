/**
 * The cron guard in real Strapi processes: three playground instances (own SQLite files) share
 * one Redis; every tick of a task runs on exactly one of them.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomPrefix } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const redis = inject('redis');
let client: Redis;

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  client = new Redis(redis.standalone.url);
});
afterAll(async () => {
  await client?.quit();
});

/** Cron tasks module for the playground: records each run in Redis under RUNS_KEY. */
const TASKS = `
module.exports = {
  everySecond: {
    options: '* * * * * *',
    async task({ strapi }, fireDate, guard) {
      const c = strapi.redis.connections.default.client;
      const tick = String(guard.tick.getTime());
      await c.hincrby(process.env.RUNS_KEY, tick, 1);
      await c.rpush(process.env.RUNS_KEY + ':who', tick + ' ' + process.env.INSTANCE_ID);
    },
  },
  slow: {
    options: '* * * * * *',
    lockTTL: 1500,
    async task({ strapi }, fireDate, guard) {
      if (!process.env.SLOW_KEY) return;
      const c = strapi.redis.connections.default.client;
      await c.rpush(process.env.SLOW_KEY, Date.now() + ' ' + process.env.INSTANCE_ID + ' ' + guard.fencingToken);
      await new Promise((r) => setTimeout(r, 4000));
    },
  },
  wallClock: {
    options: '* * * * * *',
    async task({ strapi }, fireDate, guard) {
      if (!process.env.WALL_KEY) return;
      const c = strapi.redis.connections.default.client;
      await c.rpush(process.env.WALL_KEY, Math.floor(Date.now() / 1000) + ':' + guard.tick.getTime() / 1000 + ':' + process.env.INSTANCE_ID);
    },
  },
  throws: {
    options: '* * * * * *',
    async task() {
      if (process.env.THROW_TASK) throw new Error('task exploded on purpose');
    },
  },
};
`;

async function startInstances(n: number, env: Record<string, string>): Promise<AppHandle[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      startApp({
        pluginConfig: { settings: { enableRedlock: true, lockTTL: 2000 }, connections: { default: { connection: redis.standalone.url } } },
        cronTasks: TASKS,
        env: { ...env, INSTANCE_ID: `i${i}` },
      }),
    ),
  );
}

describe('three Strapi instances', () => {
  let apps: AppHandle[] = [];
  const runsKey = `${randomPrefix('cron-e2e')}runs`;

  beforeAll(async () => {
    apps = await startInstances(3, { RUNS_KEY: runsKey, THROW_TASK: '1' });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(apps.map((a) => (a.isRunning() ? a.stop() : undefined)));
  });

  it('run each of 32+ one-second ticks exactly once, spread over the instances', async () => {
    await waitFor(async () => (await client.hlen(runsKey)) >= 33, 60_000, '33 ticks');
    const counts = await client.hgetall(runsKey);
    const ticks = Object.keys(counts)
      .map(Number)
      .sort((a, b) => a - b);
    expect(
      Object.values(counts).every((c) => c === '1'),
      JSON.stringify(counts),
    ).toBe(true);
    // no tick was lost between the first and the last recorded
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1000);
    const who = await client.lrange(`${runsKey}:who`, 0, -1);
    const instances = new Set(who.map((w) => w.split(' ')[1]));
    expect(instances.size).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("guards Strapi's own tasks too, and reports a throwing task as a task failure", async () => {
    const view = (await (await fetch(`${apps[0]!.url}/api/redis-demo/cron`)).json()) as { tasks: Array<{ name: string }> };
    const names = view.tasks.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(['uploadWeekly', 'sendProjectInformation', 'everySecond', 'throws']));
    const logs = apps.map((a) => a.logs()).join('\n');
    expect(logs).toMatch(/cron task "throws" failed \(tick [^)]+\): Error: task exploded on purpose/);
    expect(logs).not.toMatch(/failed to acquire/i);
  });
});

describe('the instance running a long task dies', () => {
  it('after the lock TTL, the next tick runs on another instance', async () => {
    const slowKey = `${randomPrefix('cron-kill')}slow`;
    const apps = await startInstances(2, { RUNS_KEY: `${slowKey}:runs`, SLOW_KEY: slowKey });
    try {
      await waitFor(async () => (await client.llen(slowKey)) >= 1, 30_000, 'a slow run');
      const [startedAt, owner, token] = (await client.lindex(slowKey, 0))!.split(' ');
      const victim = apps[Number(owner!.slice(1))]!;
      const survivor = apps.find((a) => a !== victim)!;
      const killedAt = Date.now();
      await victim.stop('SIGKILL');
      // its run lock expires after lockTTL (1500 ms); a later tick then runs on the survivor
      await waitFor(async () => (await client.llen(slowKey)) >= 2, 15_000, 'a run after the kill');
      const [nextAt, nextOwner, nextToken] = (await client.lindex(slowKey, 1))!.split(' ');
      expect(nextOwner).not.toBe(owner);
      expect(Number(nextAt) - killedAt).toBeLessThan(1500 + 3000);
      expect(Number(nextToken)).toBeGreaterThan(Number(token));
      expect(Number(startedAt)).toBeLessThan(killedAt);
      expect(survivor.isRunning()).toBe(true);
    } finally {
      await Promise.all(apps.map((a) => (a.isRunning() ? a.stop() : undefined)));
    }
  }, 90_000);
});

describe('an instance frozen (SIGSTOP) for longer than a tick claim is held (issue #13 item 1)', () => {
  it('after SIGCONT, each of the next 10 wall-clock seconds runs the task once', async () => {
    const key = `${randomPrefix('cron-freeze')}wall`;
    const apps = await startInstances(2, { RUNS_KEY: `${key}:runs`, WALL_KEY: key });
    const [running, frozen] = apps as [AppHandle, AppHandle];
    try {
      // both instances are up and guarded (not necessarily both running ticks yet)
      await waitFor(async () => (await client.llen(key)) >= 2, 30_000, 'ticks running');
      process.kill(frozen.pid, 'SIGSTOP');
      // 13 s: the frozen instance's fire dates will lag by more than a claim's 10 s hold
      await new Promise((r) => setTimeout(r, 13_000));
      const resumedAt = Date.now();
      process.kill(frozen.pid, 'SIGCONT');
      await waitFor(() => Date.now() > resumedAt + 11_500, 20_000, '10 s after the resume');
      const entries = (await client.lrange(key, 0, -1)).map((e) => {
        const [wall, tick, who] = e.split(':');
        return { wall: Number(wall), tick: Number(tick), who: who! };
      });
      // no tick ran twice: the resumed instance does not replay the ticks it slept through
      const perTick = new Map<number, string[]>();
      for (const e of entries) perTick.set(e.tick, [...(perTick.get(e.tick) ?? []), `${e.who}@${e.wall}`]);
      expect(
        [...perTick].filter(([, runs]) => runs.length > 1),
        'ticks run twice',
      ).toEqual([]);
      // each of the 10 wall-clock seconds after the resume ran the task once
      const first = Math.floor(resumedAt / 1000) + 1;
      const window = Array.from({ length: 10 }, (_, k) => first + k);
      const perSecond = window.map((sec) => entries.filter((e) => e.wall === sec).map((e) => `${e.who}:${e.tick}`));
      expect(
        perSecond.map((runs) => runs.length),
        JSON.stringify(perSecond),
      ).toEqual(window.map(() => 1));
      expect(frozen.isRunning() && running.isRunning()).toBe(true);
      // the resumed instance saw its fire dates lag, and said so
      expect(frozen.logs()).toMatch(/cron task "wallClock": Strapi's fire date lags the clock by \d+ ms/);
    } finally {
      if (frozen.isRunning()) process.kill(frozen.pid, 'SIGCONT');
      await Promise.all(apps.map((a) => (a.isRunning() ? a.stop() : undefined)));
    }
  }, 120_000);
});
