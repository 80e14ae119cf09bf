import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  pidAlive,
  randomPrefix,
  reapOrphans,
  redisCommand,
  startCluster,
  startSentinel,
  startStandalone,
  type ClusterHandle,
  type SentinelHandle,
  type ServerHandle,
} from './servers.js';

const quiet = { lazyConnect: true, maxRetriesPerRequest: 1 } as const;

/** Clients here expect connection errors (killed servers); keep them off stderr. */
function silent<T extends Redis | Cluster>(client: T): T {
  client.on('error', () => undefined);
  return client;
}

/** Reads the state letter straight from /proc (undefined when the PID is gone). */
function procState(pid: number): string | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

describe('shared servers from globalSetup', () => {
  const redis = inject('redis');

  it('provides loopback addresses that are never the machine Redis', () => {
    const ports = [redis.standalone.port, ...redis.cluster.nodes.map((n) => n.port), ...redis.sentinel.sentinels.map((n) => n.port)];
    expect(ports).not.toContain(6379);
    expect(new Set(ports).size).toBe(ports.length);
    expect(redis.standalone.url).toBe(`redis://127.0.0.1:${redis.standalone.port}`);
    expect(redis.cluster.nodes).toHaveLength(6);
    expect(redis.sentinel.sentinels).toHaveLength(3);
    expect(redis.sentinel.name).toBe('mymaster');
  });

  it('standalone: SET/GET', async () => {
    const client = silent(new Redis(redis.standalone.url, quiet));
    try {
      const key = `${randomPrefix('standalone')}k`;
      expect(await client.set(key, 'v1', 'EX', 60)).toBe('OK');
      expect(await client.get(key)).toBe('v1');
      expect(await client.del(key)).toBe(1);
    } finally {
      await client.quit();
    }
  });

  it('cluster: 100 keys across all masters round-trip, CLUSTER INFO ok', async () => {
    const cluster = silent(new Cluster(redis.cluster.nodes, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } }));
    try {
      await cluster.connect();
      const info = await cluster.cluster('INFO');
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_size:3');

      const prefix = randomPrefix('cluster');
      const keys = Array.from({ length: 100 }, (_, i) => `${prefix}${i}`);
      await Promise.all(keys.map((k, i) => cluster.set(k, `v${i}`, 'EX', 60)));
      const values = await Promise.all(keys.map((k) => cluster.get(k)));
      expect(values).toEqual(keys.map((_, i) => `v${i}`));

      // The keys really are spread over slots owned by all three masters.
      const slots = await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k)));
      expect(new Set(slots).size).toBeGreaterThan(50);
      const ranges = (await cluster.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const owners = new Set(slots.map((slot) => ranges.find(([start, end]) => slot >= start && slot <= end)?.[2][1]));
      expect(owners.size).toBe(3);
      expect(owners.has(undefined)).toBe(false);

      await Promise.all(keys.map((k) => cluster.del(k)));
    } finally {
      await cluster.quit();
    }
  });

  it('sentinel: ioredis resolves the master through the sentinels', async () => {
    const client = silent(new Redis({ sentinels: redis.sentinel.sentinels, name: redis.sentinel.name, ...quiet }));
    try {
      const key = `${randomPrefix('sentinel')}k`;
      expect(await client.set(key, 'via-sentinel', 'EX', 60)).toBe('OK');
      expect(await client.get(key)).toBe('via-sentinel');
      const role = (await client.role()) as unknown[];
      expect(role[0]).toBe('master');
      await client.del(key);
    } finally {
      await client.quit();
    }
  });
});

describe('own standalone servers', () => {
  it('password server rejects no-auth clients and accepts the password', async () => {
    const srv = await startStandalone({ password: 's3cr:t pw' });
    const anon = silent(new Redis({ host: srv.host, port: srv.port, ...quiet }));
    const authed = silent(new Redis(srv.url, quiet));
    try {
      expect(srv.url).toBe(`redis://:${encodeURIComponent('s3cr:t pw')}@127.0.0.1:${srv.port}`);
      await expect(anon.get('x')).rejects.toThrow(/NOAUTH/);
      const key = `${randomPrefix('auth')}k`;
      expect(await authed.set(key, 'ok')).toBe('OK');
      expect(await authed.get(key)).toBe('ok');
      await expect(redisCommand({ host: srv.host, port: srv.port }, ['PING'])).rejects.toThrow(/NOAUTH/);
      expect(await redisCommand({ host: srv.host, port: srv.port, password: 's3cr:t pw' }, ['PING'])).toBe('PONG');
    } finally {
      anon.disconnect();
      await authed.quit();
      await srv.stop();
    }
  });

  it('kill(SIGKILL) makes it dead in /proc and restart() brings the same port back', async () => {
    const srv = await startStandalone({ args: ['--maxmemory', '16mb'] });
    const client = silent(new Redis({ host: srv.host, port: srv.port, lazyConnect: true }));
    try {
      const { port, dir } = srv;
      const oldPid = srv.pid;
      expect(srv.isAlive()).toBe(true);
      expect(procState(oldPid)).toMatch(/^[RSD]$/);
      expect(await client.ping()).toBe('PONG');

      await srv.kill('SIGKILL');
      expect(srv.isAlive()).toBe(false);
      const st = procState(oldPid);
      expect(st === undefined || st === 'Z' || st === 'X').toBe(true);
      await expect(redisCommand({ host: '127.0.0.1', port }, ['PING'], 1000)).rejects.toThrow();

      await srv.restart();
      expect(srv.isAlive()).toBe(true);
      expect(srv.port).toBe(port);
      expect(srv.dir).toBe(dir);
      expect(srv.pid).not.toBe(oldPid);
      expect(procState(srv.pid)).toMatch(/^[RSD]$/);
      // Same args after restart.
      expect(await redisCommand(srv, ['CONFIG', 'GET', 'maxmemory'])).toEqual(['maxmemory', String(16 * 1024 * 1024)]);
      // A client that was connected before the crash reconnects on its own.
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
      await srv.stop();
    }
    expect(srv.isAlive()).toBe(false);
    expect(fs.existsSync(srv.dir)).toBe(false);
  });

  it('pause() stops answering, resume() answers again', async () => {
    const srv = await startStandalone();
    try {
      srv.pause();
      await expect(redisCommand(srv, ['PING'], 300)).rejects.toThrow(/timed out/);
      srv.resume();
      expect(await redisCommand(srv, ['PING'])).toBe('PONG');
      // stop() of a paused server does not wait for the SIGKILL fallback.
      srv.pause();
      const t = Date.now();
      await srv.stop();
      expect(Date.now() - t).toBeLessThan(3000);
      expect(srv.isAlive()).toBe(false);
    } finally {
      await srv.stop();
    }
  });

  it('reapOrphans() kills processes whose owning runner is gone', async () => {
    // A dead "runner": a process that has already exited.
    const deadOwner = spawn('true');
    await new Promise((r) => deadOwner.once('exit', r));
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' });
    const victimPid = victim.pid ?? 0;
    const statOf = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-harness-reaptest-'));
    const regDir = path.join(os.tmpdir(), 'redis-suite-harness-pids');
    fs.mkdirSync(regDir, { recursive: true });
    fs.writeFileSync(
      path.join(regDir, `${victimPid}.json`),
      JSON.stringify({
        pid: victimPid,
        pidStart: statOf(victimPid)[19],
        ownerPid: deadOwner.pid,
        ownerStart: 'gone',
        port: 0,
        dir,
        bin: 'sleep',
      }),
    );
    try {
      expect(pidAlive(victimPid)).toBe(true);
      // Another test runner on this machine may reap the entry first; either way it must end up dead.
      await reapOrphans();
      await until('victim to be reaped', 5000, async () => (pidAlive(victimPid) ? undefined : true));
      expect(fs.existsSync(dir)).toBe(false);
      expect(fs.existsSync(path.join(regDir, `${victimPid}.json`))).toBe(false);
    } finally {
      victim.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('randomPrefix() gives distinct labelled prefixes', () => {
    const a = randomPrefix('lock');
    expect(a).toMatch(/^t:lock:[0-9a-f]{12}:$/);
    expect(randomPrefix('lock')).not.toBe(a);
  });
});

describe('own cluster', () => {
  let cluster: ClusterHandle;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('masterFor() names the node that owns the key, replicas() the 3 replicas', async () => {
    expect(cluster.servers).toHaveLength(6);
    expect(cluster.nodes.map((n) => n.port)).toEqual(cluster.servers.map((handle) => handle.port));
    const replicas = await cluster.replicas();
    expect(replicas.map((r) => r.port).sort()).toEqual(
      cluster.servers
        .slice(3)
        .map((handle) => handle.port)
        .sort(),
    );

    const key = `${randomPrefix('slot')}k`;
    const owner = await cluster.masterFor(key);
    expect(cluster.servers.slice(0, 3)).toContain(owner);
    // Writing straight to the owner works (no MOVED); any other master redirects.
    expect(await redisCommand(owner, ['SET', key, '1', 'EX', '60'])).toBe('OK');
    const other = cluster.servers.slice(0, 3).find((handle) => handle !== owner);
    await expect(redisCommand(other as ServerHandle, ['GET', key])).rejects.toThrow(/MOVED/);
  });
});

describe('own sentinel set', () => {
  let set: SentinelHandle;
  beforeAll(async () => {
    set = await startSentinel();
  });
  afterAll(async () => {
    await set?.stop();
  });

  it('fails over to the replica when the master is SIGKILLed', async () => {
    expect(await set.currentMaster()).toEqual({ host: '127.0.0.1', port: set.master.port });
    const client = silent(new Redis({ sentinels: set.sentinels, name: set.name, lazyConnect: true }));
    try {
      const key = `${randomPrefix('failover')}k`;
      await client.set(key, 'before');
      // Let the write reach the replica before the crash.
      await client.wait(1, 2000);

      await set.master.kill('SIGKILL');
      expect(set.master.isAlive()).toBe(false);
      const promoted = await until('sentinel failover', 20_000, async () => {
        const m = await set.currentMaster();
        return m.port === set.replica.port ? m : undefined;
      });
      expect(promoted.port).toBe(set.replica.port);
      const value = await until('client reconnect to new master', 20_000, async () => (await client.get(key)) ?? undefined);
      expect(value).toBe('before');
      expect(((await client.role()) as unknown[])[0]).toBe('master');
    } finally {
      client.disconnect();
    }
  }, 60_000);
});
