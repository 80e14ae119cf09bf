/**
 * Shared pieces of the fault tests: a paced, bounded write loop that records every acknowledged
 * write (and the server port it was sent to), and a read-back of acknowledged keys from one server.
 */
import type { Redis } from 'ioredis';
import type { RedisConnection } from '../../src/index.js';
import { redisCommand, type HostPort } from '../harness/servers.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Ack {
  i: number;
  key: string;
  /** Date.now() when the command was sent. */
  start: number;
  /** Date.now() when the reply arrived. */
  end: number;
  /** Remote port of the client's socket when the command was sent (standalone/Sentinel clients). */
  port: number | undefined;
}

export interface Failure {
  i: number;
  start: number;
  end: number;
  name: string;
  message: string;
}

export interface WriteLoop {
  readonly acks: Ack[];
  readonly failures: Failure[];
  /** Ends the loop and waits for the write in flight (bounded by the command timeout). */
  stop(): Promise<void>;
}

export interface WriteLoopOptions {
  /** Pause between two writes (each write is awaited first). @default 5 */
  intervalMs?: number;
  /** Bound on each write (`run()` timeout). @default 500 */
  timeoutMs?: number;
  /** Hard bound on the loop's life, whatever happens. @default 45000 */
  maxRuntimeMs?: number;
}

/** `SET <prefix><i> <i>` for i = 1, 2, ... through `conn.run()`, one at a time. */
export function startWriteLoop(conn: RedisConnection, prefix: string, opts: WriteLoopOptions = {}): WriteLoop {
  const intervalMs = opts.intervalMs ?? 5;
  const timeoutMs = opts.timeoutMs ?? 500;
  const deadline = Date.now() + (opts.maxRuntimeMs ?? 45_000);
  const acks: Ack[] = [];
  const failures: Failure[] = [];
  let stopped = false;
  const portOf = (): number | undefined => (conn.isCluster ? undefined : (conn.client as Redis).stream?.remotePort);
  const done = (async () => {
    let i = 0;
    while (!stopped && Date.now() < deadline) {
      i++;
      const key = `${prefix}${i}`;
      const start = Date.now();
      const port = portOf();
      try {
        await conn.run((client) => client.set(key, String(i)), timeoutMs);
        acks.push({ i, key, start, end: Date.now(), port });
      } catch (err) {
        const e = err as Error;
        failures.push({ i, start, end: Date.now(), name: e.name, message: e.message });
      }
      await sleep(intervalMs);
    }
  })();
  return {
    acks,
    failures,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** The acknowledged writes whose key is absent (or holds another value) on `target`. */
export async function missingOn(target: HostPort, acks: readonly Ack[]): Promise<Ack[]> {
  const missing: Ack[] = [];
  for (let from = 0; from < acks.length; from += 500) {
    const chunk = acks.slice(from, from + 500);
    const values = await redisCommand(target, ['MGET', ...chunk.map((a) => a.key)], 10_000);
    if (!Array.isArray(values) || values.length !== chunk.length) throw new Error(`unexpected MGET reply from :${target.port}`);
    chunk.forEach((a, n) => {
      if (values[n] !== String(a.i)) missing.push(a);
    });
  }
  return missing;
}

/** `promise`'s value, or undefined after `ms` (the timer is cleared either way). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A `[fault-figure]` line, easy to grep from the test output. */
export function figure(text: string): void {
  console.log(`[fault-figure] ${text}`);
}
