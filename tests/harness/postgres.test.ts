import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reapPostgresOrphans, startPostgres, type PostgresHandle } from './postgres.js';
import { pidAlive } from './servers.js';

const REGISTRY_DIR = path.join(os.tmpdir(), 'redis-suite-harness-pg-pids');

describe('postgres harness', () => {
  let pg: PostgresHandle;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('starts a throw-away cluster on a free loopback port, never the machine one', async () => {
    expect(pg.port).not.toBe(5432);
    expect(pg.isAlive()).toBe(true);
    expect(pg.dir.startsWith(path.join(os.tmpdir(), 'redis-suite-harness-pg-'))).toBe(true);
    const [row] = await pg.query<{ dir: string; port: string; sock: string; fsync: string }>(
      "SELECT current_setting('data_directory') AS dir, current_setting('port') AS port, current_setting('unix_socket_directories') AS sock, current_setting('fsync') AS fsync",
    );
    expect(row?.dir.startsWith(pg.dir)).toBe(true);
    expect(row?.port).toBe(String(pg.port));
    expect(row?.sock.startsWith(pg.dir)).toBe(true);
    expect(row?.fsync).toBe('off');
    expect(fs.existsSync(path.join(REGISTRY_DIR, `${pg.pid}.json`))).toBe(true);
  });

  it('createDatabase() gives fresh empty databases', async () => {
    const a = await pg.createDatabase('harness');
    const b = await pg.createDatabase('harness');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^harness_[0-9a-f]{10}$/);
    const tables = await pg.query<{ n: string }>("SELECT count(*)::text AS n FROM information_schema.tables WHERE table_schema = 'public'", a);
    expect(tables[0]?.n).toBe('0');
    await pg.query('CREATE TABLE t (x int)', a);
    await pg.query('INSERT INTO t VALUES ($1)', a, [7]);
    expect(await pg.query('SELECT x FROM t', a)).toEqual([{ x: 7 }]);
    expect(pg.url(a)).toBe(`postgres://postgres@127.0.0.1:${pg.port}/${a}`);
  });

  it('restart() after SIGKILL comes back on the same port with the data', async () => {
    const db = await pg.createDatabase('restart');
    await pg.query('CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)', db);
    // CHECKPOINT: with fsync off the data is in the OS cache, which survives a process kill.
    await pg.query('CHECKPOINT');
    const before = pg.pid;
    await pg.kill('SIGKILL');
    expect(pidAlive(before)).toBe(false);
    await expect(pg.query('SELECT 1')).rejects.toThrow();
    await pg.restart();
    expect(pg.pid).not.toBe(before);
    expect(await pg.query('SELECT x FROM kept', db)).toEqual([{ x: 1 }]);
  });
});

describe('postgres harness: crash safety', () => {
  it('reapPostgresOrphans() stops clusters whose test process is gone and removes their folders', async () => {
    const victim = await startPostgres();
    try {
      const dead = spawn('true');
      await new Promise((r) => dead.once('exit', r));
      const file = path.join(REGISTRY_DIR, `${victim.pid}.json`);
      const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(file, JSON.stringify({ ...entry, ownerPid: dead.pid, ownerStart: 'gone' }));
      expect(victim.isAlive()).toBe(true);
      await reapPostgresOrphans();
      expect(victim.isAlive()).toBe(false);
      expect(fs.existsSync(victim.dir)).toBe(false);
      expect(fs.existsSync(file)).toBe(false);
      // The postmaster took its backends with it: nothing answers on the port.
      await expect(victim.query('SELECT 1')).rejects.toThrow();
    } finally {
      await victim.stop();
    }
  });
});
