/**
 * Shared pieces of the Apollo cache / Keyv tests: a registry per topology of the shared harness
 * servers, and a MONITOR tap that records which commands touched a test's keys.
 */
import { connect, type Socket } from 'node:net';
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

/** The arguments of one MONITOR line: `+<time> [<db> <addr>] "arg" "arg" ...` (quoted, backslash-escaped). */
export function monitorArgs(line: string): string[] {
  const args: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    args.push(
      m[1]!.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_all, esc: string) =>
        esc.length === 3
          ? String.fromCharCode(parseInt(esc.slice(1), 16))
          : (({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[esc] ?? esc),
      ),
    );
  }
  return args;
}

/**
 * MONITOR on every node of the topology, keeping the commands that mention `filter`. A raw socket,
 * not ioredis' `monitor()`: its parser sometimes met the first MONITOR line before it had switched
 * to monitor mode and threw "Command queue state error" (twice in clean-clone Valkey runs).
 */
export async function tapCommands(nodes: Array<{ host: string; port: number }>, filter: string): Promise<CommandTap> {
  const commands: string[][] = [];
  const monitors = await Promise.all(
    nodes.map(
      ({ host, port }) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ host, port });
          let buffered = '';
          let started = false;
          socket.setEncoding('utf8');
          socket.once('error', reject);
          socket.on('connect', () => socket.write('MONITOR\r\n'));
          socket.on('data', (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf('\r\n')) >= 0) {
              const line = buffered.slice(0, nl);
              buffered = buffered.slice(nl + 2);
              if (!started) {
                // MONITOR's own +OK: the tap is live from here on
                started = true;
                resolve(socket);
                continue;
              }
              const args = monitorArgs(line);
              if (args.some((a) => a.includes(filter))) commands.push(args);
            }
          });
        }),
    ),
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
      for (const socket of monitors) socket.destroy();
    },
  };
}
