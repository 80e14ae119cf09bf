/**
 * Fault test on a Redis Cluster this file starts itself (3 masters + 3 replicas, node-timeout
 * 2000 ms): the master serving a key is SIGKILLed while a bounded loop keeps writing that key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  RedisTimeoutError,
  createRedisRegistry,
  type ConnectionStatus,
  type NodeStatus,
  type RedisRegistry,
} from '../../src/index.js';
import { randomPrefix, startCluster, type ClusterHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { figure, sleep, within } from './support.js';

let cluster: ClusterHandle;
let reg: RedisRegistry | undefined;
let defaults: RedisRegistry | undefined;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await defaults?.close();
  await reg?.close();
  await cluster?.stop();
});

describe('cluster: a master SIGKILLed under writes', () => {
  it('writes to its slot succeed again once the replica is promoted; status shows the failed node', async () => {
    const logger = captureLogger();
    reg = createRedisRegistry({ connections: { cl: { connection: { nodes: cluster.nodes }, requestTimeout: 1000 } } }, { logger });
    expect(await reg.waitUntilReady()).toEqual({ cl: 'ready' });
    const conn = reg.get('cl');

    const key = `${randomPrefix('cl-kill')}{slot}`;
    const victim = await cluster.masterFor(key);
    const victimAddress = `${victim.host}:${victim.port}`;
    expect(await conn.run((client) => client.set(key, '0'))).toBe('OK');

    // A second connection with the default requestTimeout: commands in flight on the victim when
    // it dies. One node's link closing is not a close of the Cluster client (it stays ready and
    // re-routes them: slot refresh, retryDelayOnFailover), so they are bounded by requestTimeout.
    defaults = createRedisRegistry({ connections: { cl: { connection: { nodes: cluster.nodes } } } }, { logger: captureLogger() });
    expect(await defaults.waitUntilReady()).toEqual({ cl: 'ready' });
    const dconn = defaults.get('cl');
    expect(dconn.config.requestTimeout).toBe(DEFAULT_REQUEST_TIMEOUT_MS);
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => ({ ok: true as const, at: performance.now(), name: 'ok' }),
        (err: unknown) => ({ ok: false as const, at: performance.now(), name: (err as Error).name }),
      );
    const held = [
      // BLPOP holds the victim's link; the SETs of the same slot wait behind it, in flight.
      settle(dconn.run((client) => (client as Cluster).blpop(`${key}:list`, 1))),
      ...Array.from({ length: 5 }, (_, i) => settle(dconn.run((client) => client.set(`${key}:held${i}`, String(i))))),
    ];
    await sleep(100);
    const heldKilledAt = performance.now();

    const killAt = Date.now();
    await victim.kill('SIGKILL');
    const deadAt = Date.now();
    expect(victim.isAlive()).toBe(false);

    // Bounded loop: one write at a time (each bounded by run()), paced, for at most 25 s. The raw
    // ioredis promises are kept: run() gives up on a write after requestTimeout, but ioredis keeps
    // retrying it (Cluster: retryDelayOnFailover, up to maxRedirections) and may still apply it.
    const failures: string[] = [];
    const raw: Array<{ value: string; done: Promise<unknown>; timedOut: boolean }> = [];
    let written: string | undefined;
    let recoveredAt = 0;
    for (let i = 1; Date.now() - killAt < 25_000; i++) {
      const start = Date.now();
      const attempt = { value: String(i), done: Promise.resolve() as Promise<unknown>, timedOut: false };
      try {
        await conn.run((client) => {
          const p = client.set(key, attempt.value);
          attempt.done = p.then(
            (r) => r,
            (e: unknown) => e,
          );
          raw.push(attempt);
          return p;
        });
        if (start >= deadAt) {
          recoveredAt = Date.now();
          written = attempt.value;
          break;
        }
      } catch (err) {
        if (err instanceof RedisTimeoutError) attempt.timedOut = true;
        failures.push(`${(err as Error).name}: ${(err as Error).message.slice(0, 80)}`);
      }
      await sleep(10);
    }
    expect(recoveredAt, `no write succeeded within 25 s (${failures.length} failures)`).toBeGreaterThan(0);
    const heldResults = await Promise.all(held);
    const heldWaits = heldResults.map((r) => Math.round(r.at - heldKilledAt));
    // Within the default bound (+ a margin for a loaded 2-core machine), long before the failover.
    expect(Math.max(...heldWaits), `waits ${heldWaits.join(', ')} ms (${heldResults.map((r) => r.name).join(', ')})`).toBeLessThan(
      DEFAULT_REQUEST_TIMEOUT_MS + 150,
    );
    expect(heldResults.every((r) => !r.ok)).toBe(true);
    figure(
      `cluster: commands in flight on the SIGKILLed master settled in ${Math.min(...heldWaits)}-${Math.max(...heldWaits)} ms (${[...new Set(heldResults.map((r) => r.name))].join(', ')}; default requestTimeout ${DEFAULT_REQUEST_TIMEOUT_MS} ms)`,
    );
    const recoveryMs = recoveredAt - killAt;
    expect(recoveryMs).toBeLessThan(20_000);

    // Let every abandoned write settle in ioredis (bounded), then see whether one landed late.
    const settled = await within(Promise.all(raw.map((a) => a.done)), 15_000);
    expect(settled, 'abandoned writes still pending in ioredis after 15 s').toBeDefined();
    const lateApplied = raw.filter((a, n) => a.timedOut && settled![n] === 'OK').map((a) => a.value);
    const afterRecovery = await conn.run((client) => client.get(key));
    // The last acknowledged write, or a write that run() had given up on and ioredis applied later.
    expect([written, ...lateApplied]).toContain(afterRecovery);
    const staleOverwrite = afterRecovery !== written;
    expect(await conn.run((client) => client.set(key, 'final'))).toBe('OK');
    expect(await conn.run((client) => client.get(key))).toBe('final');

    // Another node may still gossip the old owner for a moment: ask until the views agree (bounded).
    let newMaster = await cluster.masterFor(key);
    await waitFor(
      async () => (newMaster = await cluster.masterFor(key)).port !== victim.port,
      10_000,
      'the cluster to report the promoted replica as the slot owner',
    ).catch(() => undefined);
    expect(newMaster.port).not.toBe(victim.port);

    // The cluster's view converges within a few gossip rounds: poll status (bounded), then assert.
    const victimOf = (connection: ConnectionStatus): NodeStatus | undefined => connection.nodes?.find((n) => n.address === victimAddress);
    let status: ConnectionStatus | undefined;
    await waitFor(
      async () => {
        status = (await reg!.status()).connections[0];
        const v = status && victimOf(status);
        return status?.clusterState === 'ok' && (v?.state === 'fail' || v?.state === 'disconnected');
      },
      15_000,
      'status: clusterState ok and the killed node failed',
    ).catch(() => undefined);
    expect(status).toBeDefined();
    expect(status!.ready).toBe(true);
    expect(status!.clusterState).toBe('ok');
    const v = victimOf(status!);
    expect(v, JSON.stringify(status!.nodes)).toBeDefined();
    expect(['fail', 'disconnected']).toContain(v!.state);
    expect(v!.pingMs).toBeNull();
    // The promoted replica is now a master, linked and answering.
    const promoted = status!.nodes!.find((n) => n.address === `${newMaster.host}:${newMaster.port}`);
    expect(promoted).toMatchObject({ role: 'master', state: 'ready' });
    expect(status!.nodes!.filter((n) => n.role === 'master' && n.state === 'ready')).toHaveLength(3);

    const kinds = [...new Set(failures)].join(' | ');
    figure(
      `cluster master SIGKILL: recovery ${recoveryMs} ms (kill -> first acknowledged write to the key's slot on :${newMaster.port}); ` +
        `${failures.length} failed writes meanwhile (${kinds || 'none'}); ${lateApplied.length} timed-out writes applied anyway` +
        `${staleOverwrite ? ` (one overwrote the newer acknowledged value ${written} with ${afterRecovery})` : ''}; killed node state '${v!.state}'`,
    );
    expect(logger.of('error')).toEqual([]);
    expect(logger.all()).not.toMatch(/Unhandled/);
    // One node failing is one warning about that node, and one line when it leaves the slot map;
    // the connection as a whole stayed ready, so it is not reported down and keeps no stale error.
    await waitFor(() => logger.of('info').some((l) => l.includes(`cluster node ${victimAddress} left the slot map`)), 15_000, 'node left line');
    expect(logger.of('warn').filter((l) => l.includes(`cluster node ${victimAddress} failed`))).toHaveLength(1);
    expect(logger.of('warn').filter((l) => l.includes('is down'))).toEqual([]);
    expect((await reg!.status()).connections[0]?.lastError).toBeUndefined();
  }, 60_000);
});
