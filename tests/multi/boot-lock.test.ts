/**
 * The boot lock (settings.bootLock) in real Strapi 5.54 processes sharing one real PostgreSQL
 * database (a throw-away cluster from tests/harness/postgres.ts) and one Redis: instances booting
 * at once run the pending migrations and the schema change on one instance; the others wait, then
 * find nothing to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../harness/postgres.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, ROOT_DIR, startApp, type AppHandle, type StartAppOptions } from '../e2e/app.js';

const redis = inject('redis');
let pg: PostgresHandle;
let client: Redis;

beforeAll(async () => {
  [pg] = await Promise.all([startPostgres(), ensurePlaygroundInstalled({ quiet: true })]);
  client = new Redis(redis.standalone.url);
}, 180_000);
afterAll(async () => {
  await client?.quit();
  await pg?.stop();
});

const MIGRATION_FILE = 'database/migrations/2024.01.01T00.00.00.boot-probe.js';
const ARTICLE_SCHEMA_FILE = 'src/api/article/content-types/article/schema.json';
/**
 * A user migration that records which instance ran it. It takes a moment (as real data
 * migrations do): pg_sleep inside the migration's transaction.
 */
const MIGRATION = `
'use strict';
module.exports = {
  async up(knex) {
    await knex.raw('CREATE TABLE IF NOT EXISTS boot_probe (id serial PRIMARY KEY, instance text NOT NULL, at timestamptz NOT NULL DEFAULT now())');
    await knex.raw('SELECT pg_sleep(0.3)');
    // SLOW_MIGRATION: stay inside the transaction (a client-side wait, so a killed process' backend
    // sees its socket close and rolls back at once).
    if (process.env.SLOW_MIGRATION) await new Promise((r) => setTimeout(r, Number(process.env.SLOW_MIGRATION)));
    await knex('boot_probe').insert({ instance: process.env.INSTANCE_ID });
    console.log('[boot-probe] migration ran on ' + process.env.INSTANCE_ID);
  },
};
`;

const appsToStop: AppHandle[] = [];
afterAll(async () => {
  await Promise.all(appsToStop.map((a) => (a.isRunning() ? a.stop() : undefined)));
});

interface BootResult {
  id: string;
  app?: AppHandle;
  error?: Error;
  logs: string;
}

/** Boot `n` instances at the same moment; failures are results, not exceptions. */
async function bootTogether(n: number, opts: (i: number) => StartAppOptions): Promise<BootResult[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i): Promise<BootResult> => {
      const id = `i${i}`;
      try {
        const options = opts(i);
        const app = await startApp({ ...options, env: { INSTANCE_ID: id, ...options.env } });
        appsToStop.push(app);
        return { id, app, logs: app.logs() };
      } catch (error) {
        return { id, error: error as Error, logs: String((error as Error).message) };
      }
    }),
  );
}

const pluginConfig = (settings: Record<string, unknown> = {}) => ({
  settings,
  connections: { default: { connection: redis.standalone.url } },
});

const ranMigration = (r: BootResult): boolean => r.logs.includes(`[boot-probe] migration ran on ${r.id}`);
const syncStatus = (r: BootResult): string | undefined => /schema sync (CHANGED|UNCHANGED)/.exec(r.logs)?.[1];

async function stopAll(results: BootResult[]): Promise<void> {
  await Promise.all(results.map((r) => (r.app?.isRunning() ? r.app.stop() : undefined)));
}

async function probeRows(db: string): Promise<Array<{ instance: string }>> {
  try {
    return await pg.query<{ instance: string }>('SELECT instance FROM boot_probe ORDER BY id', db);
  } catch (error) {
    if (/does not exist/.test(String(error))) return [];
    throw error;
  }
}

/** A database a previous "release" (the first test's three instances) left behind: reused below. */
let releasedDb: string | undefined;

describe('boot lock: three instances boot at once against one empty PostgreSQL database', () => {
  it('run the pending migration once, sync the schema once, and all come up', async () => {
    const db = await pg.createDatabase('boot');
    const results = await bootTogether(3, () => ({
      pluginConfig: pluginConfig(),
      databaseUrl: pg.url(db),
      files: { [MIGRATION_FILE]: MIGRATION },
    }));
    try {
      for (const r of results) expect(r.error, `${r.id} failed to boot:\n${r.logs.slice(-3000)}`).toBeUndefined();
      const rows = await probeRows(db);
      expect(rows).toHaveLength(1);
      const ran = results.filter(ranMigration);
      expect(ran.map((r) => r.id)).toEqual([rows[0]!.instance]);
      // One instance created the schema; the others waited and found it done.
      expect(results.map(syncStatus).sort()).toEqual(['CHANGED', 'UNCHANGED', 'UNCHANGED']);
      for (const r of results) {
        expect(r.logs).toMatch(/boot lock "boot:schema-sync:postgres\/boot_[0-9a-f]+" acquired by [^ ]+:\d+/);
        expect(r.logs).toMatch(/boot lock "[^"]+" released by [^ ]+ after Strapi's bootstrap: schema sync (UN)?CHANGED in \d+ ms, held \d+ ms/);
      }
      console.log(
        '[boot-lock] three boots:',
        results.map((r) => `${r.id}: ${syncStatus(r)}, ${/acquired by \S+ (in|after waiting) (\d+) ms/.exec(r.logs)?.slice(1).join(' ')} ms`).join('; '),
      );
      // An instance that waited names the holder (its hostname:pid) and how long it waited.
      for (const r of results.filter((x) => /is held by/.test(x.logs))) {
        expect(r.logs).toMatch(/boot lock "[^"]+" is held by \S+:\d+ since \S+: \S+ waits for it \(up to 300000 ms, settings\.bootLockTimeout\)/);
        expect(r.logs).toMatch(/acquired by \S+ after waiting \d+ ms \(it was held by \S+:\d+ since /);
      }
      if (process.env.BOOT_LOCK_PRINT_LOGS) for (const r of results) console.log(`--- ${r.id}\n${r.logs}`);
      releasedDb = db;
    } finally {
      await stopAll(results);
    }
  }, 240_000);
});

describe('boot lock off (settings.bootLock: false): the same three boots race', () => {
  it('show more than one migration row or a failed boot in at least one of a few tries', async () => {
    const MAX_TRIES = Number(process.env.BOOT_RACE_TRIES ?? 3);
    const tries: Array<{ rows: number; failed: number; ran: number; why: string[] }> = [];
    for (let t = 0; t < MAX_TRIES; t++) {
      const db = await pg.createDatabase('race');
      const results = await bootTogether(3, () => ({
        pluginConfig: pluginConfig({ bootLock: false }),
        databaseUrl: pg.url(db),
        files: { [MIGRATION_FILE]: MIGRATION },
      }));
      try {
        const rows = (await probeRows(db)).length;
        const why = results.flatMap((r) => (r.error ? [/error: (.*)/.exec(r.logs)?.[1]?.slice(-140) ?? 'exited'] : []));
        tries.push({ rows, failed: why.length, ran: results.filter(ranMigration).length, why });
        for (const r of results) expect(r.logs).not.toMatch(/boot lock "/);
      } finally {
        await stopAll(results);
      }
      if (!process.env.BOOT_RACE_ALL_TRIES && tries.some((x) => x.rows > 1 || x.failed > 0)) break;
    }
    console.log(
      `[boot-lock] lock off, ${tries.length} tries of three boots:`,
      tries.map((x, i) => `#${i + 1}: ${x.rows} rows, ${x.failed} failed boots (${x.why.join(' | ')}), migration ran ${x.ran}x`).join('; '),
    );
    expect(
      tries.some((x) => x.rows > 1 || x.failed > 0),
      JSON.stringify(tries),
    ).toBe(true);
  }, 600_000);
});

describe('boot lock: a content-type change deployed to three instances at once', () => {
  it('is applied by one instance; the others wait, then find the schema done', async () => {
    // The database as the previous release left it (the first test's, or one booted here).
    let db = releasedDb;
    if (!db) {
      db = await pg.createDatabase('ctchange');
      const [first] = await bootTogether(1, () => ({ pluginConfig: pluginConfig(), databaseUrl: pg.url(db!) }));
      expect(first!.error, first!.logs.slice(-3000)).toBeUndefined();
      await stopAll([first!]);
    }
    const columns = async () =>
      (await pg.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'articles'", db)).map(
        (c) => c.column_name,
      );
    expect(await columns()).not.toContain('summary');

    const schema = JSON.parse(fs.readFileSync(path.join(ROOT_DIR, 'playground', ARTICLE_SCHEMA_FILE), 'utf8')) as { attributes: Record<string, unknown> };
    schema.attributes.summary = { type: 'string' };
    const results = await bootTogether(3, () => ({
      pluginConfig: pluginConfig(),
      databaseUrl: pg.url(db),
      files: { [ARTICLE_SCHEMA_FILE]: JSON.stringify(schema, null, 2) },
    }));
    try {
      for (const r of results) expect(r.error, `${r.id} failed to boot:\n${r.logs.slice(-3000)}`).toBeUndefined();
      expect(results.map(syncStatus).sort()).toEqual(['CHANGED', 'UNCHANGED', 'UNCHANGED']);
      expect(await columns()).toContain('summary');
      // Every instance knows the new field (an unknown field in `fields` is a 400).
      for (const r of results) expect((await fetch(`${r.app!.url}/api/articles?fields[0]=summary`)).status).toBe(200);
      console.log(
        '[boot-lock] content-type change:',
        results.map((r) => `${r.id}: ${syncStatus(r)}, ${/acquired by \S+ (in|after waiting) (\d+) ms/.exec(r.logs)?.slice(1).join(' ')} ms`).join('; '),
      );
    } finally {
      await stopAll(results);
    }
  }, 300_000);
});

describe('boot lock: the holder dies', () => {
  it('releases by expiry (bootLockTTL): a waiting instance then runs the migration', async () => {
    const db = await pg.createDatabase('dies');
    const ttl = 3000;
    const common = { pluginConfig: pluginConfig({ bootLockTTL: ttl }), databaseUrl: pg.url(db), files: { [MIGRATION_FILE]: MIGRATION } };
    // The holder: its migration stays in its transaction until it is killed.
    const holderBoot = startApp({ ...common, env: { INSTANCE_ID: 'holder', SLOW_MIGRATION: '120000' }, readyTimeoutMs: 180_000 }).catch((e: Error) => e);
    const holderKey = () => client.get(`lock:boot:schema-sync:postgres/${db}:holder`);
    await waitFor(async () => (await holderKey()) !== null, 120_000, 'the holder to take the boot lock');
    const holder = (await holderKey())!;
    const holderPid = Number(/:(\d+) since /.exec(holder)?.[1]);
    let waiterOutput = '';
    const waiterBoot = startApp({ ...common, env: { INSTANCE_ID: 'waiter' }, readyTimeoutMs: 180_000, onOutput: (t) => (waiterOutput += t) });
    // Kill the holder mid-migration once the waiter waits for it.
    await waitFor(() => waiterOutput.includes('is held by'), 120_000, 'the waiter to wait for the boot lock');
    const killedAt = Date.now();
    process.kill(holderPid, 'SIGKILL');
    const holderResult = await holderBoot;
    expect(holderResult).toBeInstanceOf(Error);
    const waiter = await waiterBoot;
    appsToStop.push(waiter);
    const logs = waiter.logs();
    try {
      const acquired = /boot lock "[^"]+" acquired by \S+ after waiting (\d+) ms \(it was held by (\S+) since/.exec(logs);
      expect(acquired, logs.slice(-3000)).not.toBeNull();
      expect(acquired![2]).toBe(holder.split(' ')[0]);
      expect(await probeRows(db)).toEqual([{ instance: 'waiter' }]);
      expect(logs).toContain('[boot-probe] migration ran on waiter');
      const acquiredAt = Date.parse(/\[([\d-]+ [\d:.]+)\] info: \[redis\] boot lock "[^"]+" acquired by/.exec(logs)![1]!.replace(' ', 'T'));
      console.log(`[boot-lock] holder SIGKILLed; the waiter took the lock ${acquiredAt - killedAt} ms later (bootLockTTL ${ttl} ms)`);
      // Expiry, not a release: at most the TTL after the kill (plus a margin for a loaded machine).
      expect(acquiredAt - killedAt).toBeLessThan(ttl + 5000);
    } finally {
      await waiter.stop();
    }
  }, 300_000);
});

describe('boot lock: bounded, and says what it did', () => {
  it('Redis down: proceeds without the lock by default, stops boot with bootLockOnError "fail", stops boot when a live holder outlasts bootLockTimeout', async () => {
    const unreachable = (settings: Record<string, unknown>) => ({
      settings,
      // Port 1: nothing listens (a freed harness port could be taken by another test run's server).
      connections: { default: { connection: 'redis://127.0.0.1:1', readyTimeout: 500 } },
    });
    // A holder that keeps the lock: the key set (and kept) by this test, with its holder record.
    const heldDb = await pg.createDatabase('held');
    const lockKey = `lock:boot:schema-sync:postgres/${heldDb}`;
    await client.set(lockKey, 'someone-else', 'PX', 120_000);
    await client.set(`${lockKey}:holder`, 'other-host:4242 since 2026-01-01T00:00:00.000Z', 'PX', 120_000);
    const started = Date.now();
    const [proceed, fail, timeout] = await Promise.all([
      startApp({ pluginConfig: unreachable({}) }).then((app) => {
        appsToStop.push(app);
        return app;
      }),
      startApp({ pluginConfig: unreachable({ bootLockOnError: 'fail', bootLockTimeout: 3000 }), expectBootFailure: true }),
      startApp({ pluginConfig: pluginConfig({ bootLockTimeout: 3000 }), databaseUrl: pg.url(heldDb), expectBootFailure: true }),
    ]);
    try {
      console.log(`[boot-lock] three bounded boots settled after ${Date.now() - started} ms`);
      if (process.env.BOOT_LOCK_PRINT_LOGS) for (const a of [proceed, fail, timeout]) console.log(`---\n${a.logs()}`);
      expect(proceed.logs()).toMatch(
        /warn: \[redis\] boot lock "boot:schema-sync:sqlite\/[^"]+" could not be taken \(.*\): \S+ runs Strapi's bootstrap \(schema sync, migrations\) WITHOUT it/,
      );
      expect((await fetch(`${proceed.url}/api/articles`)).status).toBe(200);

      const failExit = await fail.exited;
      expect(failExit.code).not.toBe(0);
      expect(fail.logs()).toMatch(/BootLockUnavailableError|could not be taken within 3000 ms \(settings\.bootLockTimeout\)/);
      expect(fail.logs()).toContain("bootLockOnError is 'fail'");

      const timeoutExit = await timeout.exited;
      expect(timeoutExit.code).not.toBe(0);
      expect(timeout.logs()).toContain('is held by other-host:4242 since 2026-01-01T00:00:00.000Z');
      expect(timeout.logs()).toMatch(/was still held by other-host:4242 since \S+ after 3000 ms \(settings\.bootLockTimeout\)/);
      // It never ran the sync: the database is still empty.
      expect(await pg.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", heldDb)).toEqual([]);
    } finally {
      await client.del(lockKey, `${lockKey}:holder`);
      await proceed.stop();
    }
  }, 240_000);
});
