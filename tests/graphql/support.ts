/**
 * Shared pieces of the Apollo cache / Keyv tests: a registry per topology of the shared harness
 * servers, and a MONITOR tap that records which commands touched a test's keys.
 */
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import type { ProvidedRedis } from '../harness/global-setup.js';
import { captureLogger, type CapturedLogger } from '../helpers/logger.js';

export type TopologyName = 'standalone' | 'cluster' | 'sentinel';
export const TOPOLOGIES: TopologyName[] = ['standalone', 'cluster', 'sentinel'];

export function connectionFor(topology: TopologyName, redis: ProvidedRedis = inject('redis')): unknown {
  switch (topology) {
    case 'standalone':
      return redis.standalone.url;
    case 'cluster':
      return { nodes: redis.cluster.nodes };
    case 'sentinel':
      return { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name };
  }
}

export interface TestRegistry {
  registry: RedisRegistry;
  logger: CapturedLogger;
}

/** A registry with one connection named `cache` on the topology, ready. */
export async function registryOn(topology: TopologyName, extra: Record<string, unknown> = {}): Promise<TestRegistry> {
  const logger = captureLogger();
  const registry = createRedisRegistry({ connections: { cache: { connection: connectionFor(topology) as string, ...extra } } }, { logger });
  await registry.waitUntilReady();
  return { registry, logger };
}

export interface CommandTap {
  /** Commands seen so far whose arguments mention the filter, e.g. `['mget', 'p:a', 'p:b']`. */
  commands: string[][];
  /** Wait until `count` commands were seen (bounded), then return them. */
  waitFor(count: number, timeoutMs?: number): Promise<string[][]>;
  close(): Promise<void>;
}

/** MONITOR on every node of the topology, keeping the commands that mention `filter`. */
export async function tapCommands(nodes: Array<{ host: string; port: number }>, filter: string): Promise<CommandTap> {
  const commands: string[][] = [];
  const monitors = await Promise.all(
    nodes.map(async ({ host, port }) => {
      // No CLIENT SETINFO on this connection: its replies could interleave with MONITOR's output and
      // trip ioredis' "Command queue state error" (seen once in a clean-clone Valkey run).
      const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1, disableClientInfo: true });
      const monitor = await client.monitor();
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.some((a) => String(a).includes(filter))) commands.push(args.map(String));
      });
      return { client, monitor };
    }),
  );
  return {
    commands,
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (commands.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // a short settle so an unexpected extra command would be seen too
      await new Promise((r) => setTimeout(r, 100));
      return commands;
    },
    async close() {
      await Promise.all(
        monitors.map(async ({ client, monitor }) => {
          monitor.disconnect();
          client.disconnect();
        }),
      );
    },
  };
}
