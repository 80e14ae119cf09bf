/**
 * Fault tests on Sentinel sets this file starts itself (down-after 1000 ms, failover-timeout
 * 5000 ms): the master SIGKILLed under a write loop, and a forced `SENTINEL FAILOVER` with the
 * failover detector on (the suite's default) and off, counting acknowledged writes that are lost.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisUnavailableError, createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { parseInfo, randomPrefix, redisCommand, startSentinel, type HostPort, type SentinelHandle } from '../harness/servers.js';
import { captureLogger, waitFor } from '../helpers/logger.js';
import { figure, missingOn, sleep, startWriteLoop, type Ack } from './support.js';

const open: RedisRegistry[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

let killSet: SentinelHandle;
let detectorOnSet: SentinelHandle;
let detectorOffSet: SentinelHandle;
let inFlightSet: SentinelHandle;

beforeAll(async () => {
  const sets = await Promise.allSettled([startSentinel(), startSentinel(), startSentinel(), startSentinel()]);
  const ok = sets.flatMap((handle) => (handle.status === 'fulfilled' ? [handle.value] : []));
  const failed = sets.find((handle): handle is PromiseRejectedResult => handle.status === 'rejected');
  if (failed) {
    await Promise.allSettled(ok.map((handle) => handle.stop()));
    throw failed.reason;
  }
  [killSet, detectorOnSet, detectorOffSet, inFlightSet] = ok as [SentinelHandle, SentinelHandle, SentinelHandle, SentinelHandle];
});

afterAll(async () => {
  await Promise.allSettled([killSet, detectorOnSet, detectorOffSet, inFlightSet].filter(Boolean).map((handle) => handle.stop()));
});

function registryFor(set: SentinelHandle, failoverDetector?: boolean, requestTimeout = 500) {
  const logger = captureLogger();
  const connection = { sentinels: set.sentinels, name: set.name, ...(failoverDetector === undefined ? {} : { failoverDetector }) };
  const reg = createRedisRegistry({ connections: { ha: { connection, requestTimeout } } }, { logger });
  open.push(reg);
  return { reg, logger, conn: reg.get('ha') };
}

async function role(target: HostPort): Promise<string | undefined> {
  const info = await redisCommand(target, ['INFO', 'replication'], 1000).catch(() => null);
  return parseInfo(info).role;
}

const portsOf = (acks: readonly Ack[]): string => [...new Set(acks.map((a) => a.port))].map((p) => `:${p}`).join(',') || '-';

describe('sentinel: master SIGKILL under writes', () => {
  it('writes resume on the promoted replica within 20 s and every write acknowledged after that is there', async () => {
    const set = killSet;
    const { conn, logger } = registryFor(set);
    expect(await conn.waitUntilReady()).toBe('ready');
    expect((conn.client as Redis).options.failoverDetector).toBe(true);
    const prefix = randomPrefix('se-kill');
    const loop = startWriteLoop(conn, prefix, { maxRuntimeMs: 40_000 });
    try {
      await waitFor(() => loop.acks.length >= 50, 10_000, '50 writes before the kill');
      expect(loop.acks.every((a) => a.port === set.master.port)).toBe(true);

      const killAt = Date.now();
      await set.master.kill('SIGKILL');
      const deadAt = Date.now();
      expect(set.master.isAlive()).toBe(false);

      const after = (): Ack[] => loop.acks.filter((a) => a.start >= deadAt);
      await waitFor(() => after().length > 0, 20_000, 'the first acknowledged write after the kill');
      const first = after()[0]!;
      const recoveryMs = first.end - killAt;
      expect(recoveryMs).toBeLessThan(20_000);
      // About 1 s of writes on the new master.
      await waitFor(() => after().length >= 150, 10_000, '150 writes after recovery');
      await loop.stop();

      const newMaster = await set.currentMaster();
      expect(newMaster.port).toBe(set.replica.port);
      const post = after();
      // Nothing but the promoted replica can acknowledge a write once the master is dead.
      expect(post.every((a) => a.port === set.replica.port)).toBe(true);
      const missingPost = await missingOn(newMaster, post);
      expect(missingPost.map((a) => a.key)).toEqual([]);

      const pre = loop.acks.filter((a) => a.start < deadAt);
      const missingPre = await missingOn(newMaster, pre);
      const outageFailures = loop.failures.filter((f) => f.start >= killAt && f.start < first.start);
      const kinds = [...new Set(outageFailures.map((f) => f.name))].join(',');
      figure(
        `sentinel master SIGKILL: recovery ${recoveryMs} ms (kill -> first acknowledged write on :${newMaster.port}); ` +
          `${outageFailures.length} refused/failed writes meanwhile (${kinds}); ${post.length} writes after, 0 missing; ` +
          `${missingPre.length}/${pre.length} acknowledged before the kill missing`,
      );
      expect(logger.of('error')).toEqual([]);
      expect(logger.of('warn').filter((w) => /is down/.test(w)).length).toBeGreaterThanOrEqual(1);
      expect(logger.of('info').filter((l) => /ready again after \d+ ms/.test(l)).length).toBeGreaterThanOrEqual(1);
      expect(logger.all()).not.toMatch(/Unhandled/);
    } finally {
      await loop.stop();
    }
  }, 60_000);
});

describe('sentinel: commands in flight when the master is SIGKILLed', () => {
  it('reject at once with RedisUnavailableError (inFlight), not after requestTimeout', async () => {
    const requestTimeout = 5000;
    const { conn, logger } = registryFor(inFlightSet, undefined, requestTimeout);
    expect(await conn.waitUntilReady()).toBe('ready');
    const prefix = randomPrefix('se-inflight');
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => ({ ok: true as const, at: performance.now() }),
        (err: unknown) => ({ ok: false as const, err, at: performance.now() }),
      );
    // BLPOP holds the link: everything behind it is in flight until the master dies.
    const calls = [
      settle(conn.run((client) => (client as Redis).blpop(`${prefix}list`, 1))),
      ...Array.from({ length: 10 }, (_, i) => settle(conn.run((client) => client.set(`${prefix}k${i}`, String(i))))),
    ];
    await sleep(100);
    const killedAt = performance.now();
    await inFlightSet.master.kill('SIGKILL');
    const results = await Promise.all(calls);
    const waits = results.map((r) => Math.round(r.at - killedAt));
    const kinds = results.map((r) => (r.ok ? 'ok' : (r.err as Error).name));
    expect(Math.max(...waits), `waits after SIGKILL: ${waits.join(', ')} ms (${kinds.join(', ')})`).toBeLessThan(200);
    for (const r of results) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.err).toBeInstanceOf(RedisUnavailableError);
        expect((r.err as RedisUnavailableError).inFlight).toBe(true);
      }
    }
    figure(
      `sentinel: in-flight commands after master SIGKILL rejected in ${Math.min(...waits)}-${Math.max(...waits)} ms (requestTimeout ${requestTimeout} ms)`,
    );
    // The client follows the promoted replica afterwards, as before (the failover detector may
    // still move it once more when the sentinels announce the switch: retry, bounded).
    await waitFor(
      () =>
        conn
          .run((client) => client.set(`${prefix}after`, '1'))
          .then(
            (r) => r === 'OK',
            () => false,
          ),
      20_000,
      'a write acknowledged by the promoted replica',
    );
    expect(await redisCommand(await inFlightSet.currentMaster(), ['GET', `${prefix}after`], 2000)).toBe('1');
    expect(logger.of('error')).toEqual([]);
  }, 60_000);
});

interface FailoverRun {
  /** SENTINEL FAILOVER sent -> the replica reports role:master. */
  promotedMs: number;
  /** SENTINEL FAILOVER sent -> the old master reports role:slave (null: not seen before the run ended). */
  demotedMs: number | null;
  /** SENTINEL FAILOVER sent -> sentinels report the new master. */
  sentinelSwitchMs: number;
  /** SENTINEL FAILOVER sent -> first write acknowledged by the new master. */
  clientSwitchMs: number;
  acked: number;
  lost: Ack[];
  /** Lost writes that were sent before SENTINEL FAILOVER (replication had them long before the promotion). */
  lostSentBeforeFailover: number;
  /** Acknowledged by the old master after the FAILOVER was sent. */
  ackedByOldAfter: number;
  newPort: number;
  oldPort: number;
}

async function forcedFailover(set: SentinelHandle, failoverDetector: boolean | undefined): Promise<FailoverRun> {
  const { conn, logger } = registryFor(set, failoverDetector);
  expect(await conn.waitUntilReady()).toBe('ready');
  expect((conn.client as Redis).options.failoverDetector).toBe(failoverDetector ?? true);
  const oldPort = set.master.port;
  const newPort = set.replica.port;
  const prefix = randomPrefix(`se-fo-${failoverDetector === false ? 'off' : 'on'}`);
  const loop = startWriteLoop(conn, prefix, { maxRuntimeMs: 45_000 });
  let watching = true;
  try {
    await waitFor(() => loop.acks.length >= 50, 10_000, '50 writes before the failover');

    // Watch both servers' roles while the failover runs (bounded, polled).
    let promotedAt = 0;
    let demotedAt = 0;
    const watcher = (async () => {
      const until = Date.now() + 40_000;
      while (watching && Date.now() < until && (!promotedAt || !demotedAt)) {
        const [r, m] = await Promise.all([role(set.replica), role(set.master)]);
        if (!promotedAt && r === 'master') promotedAt = Date.now();
        if (!demotedAt && m === 'slave') demotedAt = Date.now();
        await sleep(20);
      }
    })();

    const sentAt = Date.now();
    // Sent to the last sentinel: the client's first-asked sentinel (the first in its list) is not the leader.
    expect(await redisCommand(set.sentinels[2]!, ['SENTINEL', 'FAILOVER', set.name], 2000)).toBe('OK');

    let sentinelSwitchAt = 0;
    await waitFor(
      async () => {
        const m = await set.currentMaster().catch(() => undefined);
        if (m?.port === newPort) sentinelSwitchAt = Date.now();
        return sentinelSwitchAt > 0;
      },
      15_000,
      'sentinels to report the new master',
    );
    const onNew = (): Ack[] => loop.acks.filter((a) => a.port === newPort);
    await waitFor(() => onNew().length > 0, 25_000, 'the client to write to the new master');
    const clientSwitchMs = onNew()[0]!.end - sentAt;
    // About 1 s of writes landing on the new master.
    await waitFor(() => onNew().length >= 150, 10_000, '150 writes on the new master');
    await waitFor(() => promotedAt > 0, 10_000, 'the replica to report role:master');
    // Without the detector the client only moved because the demotion closed its connection.
    if (failoverDetector === false) await waitFor(() => demotedAt > 0, 20_000, 'the old master to be demoted');
    watching = false;
    await watcher;
    await loop.stop();

    expect((conn.client as Redis).stream?.remotePort).toBe(newPort);
    const lost = await missingOn({ host: '127.0.0.1', port: newPort }, loop.acks);
    expect(logger.of('error')).toEqual([]);
    expect(logger.all()).not.toMatch(/Unhandled/);
    return {
      promotedMs: promotedAt - sentAt,
      demotedMs: demotedAt ? demotedAt - sentAt : null,
      sentinelSwitchMs: sentinelSwitchAt - sentAt,
      clientSwitchMs,
      acked: loop.acks.length,
      lost,
      lostSentBeforeFailover: lost.filter((a) => a.start < sentAt).length,
      ackedByOldAfter: loop.acks.filter((a) => a.port === oldPort && a.start >= sentAt).length,
      newPort,
      oldPort,
    };
  } finally {
    watching = false;
    await loop.stop();
  }
}

function report(label: string, r: FailoverRun): void {
  figure(
    `sentinel SENTINEL FAILOVER, failoverDetector ${label}: lost ${r.lost.length}/${r.acked} acknowledged writes ` +
      `(sent to ${portsOf(r.lost)}); client on new master after ${r.clientSwitchMs} ms; ` +
      `replica promoted at ${r.promotedMs} ms, sentinels switched at ${r.sentinelSwitchMs} ms, old master demoted ${r.demotedMs === null ? 'later (not awaited)' : `at ${r.demotedMs} ms`}; ` +
      `${r.ackedByOldAfter} writes acknowledged by the old master after FAILOVER`,
  );
}

describe('sentinel: SENTINEL FAILOVER (old master stays up)', () => {
  const runs: Partial<Record<'on' | 'off', FailoverRun>> = {};

  it('failover detector on (default): the client moves to the new master within 10 s', async () => {
    const r = await forcedFailover(detectorOnSet, undefined);
    runs.on = r;
    report('on', r);
    expect(r.clientSwitchMs).toBeLessThan(10_000);
    // Lost writes are the ones the old master acknowledged during the failover, nothing older.
    expect(r.lost.every((a) => a.port === r.oldPort)).toBe(true);
    expect(r.lostSentBeforeFailover).toBe(0);
  }, 60_000);

  it('failover detector off: the client stays on the old master until its demotion', async () => {
    const r = await forcedFailover(detectorOffSet, false);
    runs.off = r;
    report('off', r);
    expect(r.lost.every((a) => a.port === r.oldPort)).toBe(true);
    expect(r.lostSentBeforeFailover).toBe(0);
    // Nothing tells this client about the switch: it moves only once the demotion (REPLICAOF +
    // CLIENT KILL from the sentinel) closes its connection; Sentinel waits ~8 s after the switch
    // before it converts the old master. 500 ms of slack for the role poll.
    expect(r.demotedMs).not.toBeNull();
    expect(r.clientSwitchMs).toBeGreaterThanOrEqual(r.demotedMs! - 500);
    expect(r.clientSwitchMs).toBeGreaterThan(r.sentinelSwitchMs + 3000);
  }, 60_000);

  it('the detector loses no more acknowledged writes than no detector', () => {
    const { on, off } = runs;
    expect(on, 'the detector-on run did not complete').toBeDefined();
    expect(off, 'the detector-off run did not complete').toBeDefined();
    figure(
      `sentinel SENTINEL FAILOVER lost writes: detector on ${on!.lost.length}, off ${off!.lost.length}; switch on ${on!.clientSwitchMs} ms, off ${off!.clientSwitchMs} ms`,
    );
    expect(on!.lost.length).toBeLessThanOrEqual(off!.lost.length);
    expect(on!.clientSwitchMs).toBeLessThan(off!.clientSwitchMs);
  });
});
