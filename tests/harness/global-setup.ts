/**
 * vitest globalSetup: starts one shared standalone, one Cluster (3+3) and one
 * Sentinel set (1+1+3) in parallel and provides their addresses to tests via
 * `inject('redis')`. These shared servers must never be killed by tests: fault
 * tests start their own through ./servers.ts.
 */
// Type-only: pulls the 'vitest' module into the program so it can be augmented below.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import {
  reapOrphans,
  requireRedisServer,
  startCluster,
  startSentinel,
  startStandalone,
  type ClusterHandle,
  type HostPort,
  type SentinelHandle,
  type ServerHandle,
} from './servers.js';

export interface ProvidedRedis {
  standalone: { host: string; port: number; url: string };
  cluster: { nodes: HostPort[] };
  sentinel: { sentinels: HostPort[]; name: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    redis: ProvidedRedis;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  requireRedisServer();
  const reaped = await reapOrphans();
  if (reaped > 0) console.warn(`[redis harness] killed ${reaped} orphaned server(s) from a previous run`);

  const t0 = Date.now();
  const timed = async <T>(label: string, start: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    const v = await start();
    if (process.env.REDIS_HARNESS_VERBOSE) console.log(`[redis harness] ${label} up in ${Date.now() - t} ms`);
    return v;
  };
  const [standalone, cluster, sentinel] = await Promise.allSettled([
    timed('standalone', () => startStandalone()),
    // The shared servers must not fail over on their own when a loaded 2-core machine stalls a
    // node for a moment: long timeouts here; fault tests start their own with short ones.
    timed('cluster', () => startCluster({ args: ['--cluster-node-timeout', '15000'] })),
    timed('sentinel', () => startSentinel({ downAfterMs: 15_000 })),
  ]);
  const started: { stop(): Promise<void> }[] = [];
  for (const r of [standalone, cluster, sentinel]) if (r.status === 'fulfilled') started.push(r.value);
  const teardown = async (): Promise<void> => {
    await Promise.allSettled(started.map((s) => s.stop()));
    await reapOrphans();
  };
  if (standalone.status === 'rejected' || cluster.status === 'rejected' || sentinel.status === 'rejected') {
    await teardown();
    const reasons = [standalone, cluster, sentinel].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    throw reasons[0] instanceof Error ? reasons[0] : new Error(String(reasons[0]));
  }
  const handle: ServerHandle = standalone.value;
  const client: ClusterHandle = cluster.value;
  const se: SentinelHandle = sentinel.value;
  if (process.env.REDIS_HARNESS_VERBOSE) {
    console.log(`[redis harness] standalone + cluster + sentinel up in ${Date.now() - t0} ms`);
  }

  project.provide('redis', {
    standalone: { host: handle.host, port: handle.port, url: handle.url },
    cluster: { nodes: client.nodes },
    sentinel: { sentinels: se.sentinels, name: se.name },
  });
  return teardown;
}
