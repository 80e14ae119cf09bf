/**
 * A TCP proxy in front of a real Redis server, for network faults between one client and one
 * server: added latency on every chunk (both directions), or a one-time stall of what the client
 * sends after a given command (the client "freezes" right after that command left it).
 *
 * Command names are read from the RESP arrays ioredis writes (`*<n>\r\n$<len>\r\n<NAME>\r\n`); the
 * helper does not parse values, so it is meant for tests whose payloads are plain text.
 */
import net from 'node:net';
import { HOST } from '../harness/servers.js';

export interface ProxyOptions {
  /** Where to forward to. */
  target: { host?: string; port: number };
  /** Delay added to every chunk, in both directions, in ms. @default 0 */
  latencyMs?: number;
  /**
   * Once a client command whose name matches `command` has been forwarded, hold everything the
   * client sends next for `ms` (one time per proxy), then forward it in order.
   */
  stallAfter?: { command: RegExp; ms: number };
}

export interface ProxyHandle {
  port: number;
  url: string;
  /** How many client chunks the stall held. */
  readonly held: number;
  close(): Promise<void>;
}

const COMMAND = /\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g;

export async function startProxy(opts: ProxyOptions): Promise<ProxyHandle> {
  const sockets = new Set<net.Socket>();
  const latency = opts.latencyMs ?? 0;
  let armed = false;
  let stallUntil: number | undefined;
  let stallDone = false;
  let held = 0;

  const server = net.createServer((client) => {
    const upstream = net.connect({ host: opts.target.host ?? HOST, port: opts.target.port });
    sockets.add(client);
    sockets.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });

    // One ordered queue per direction: a chunk never overtakes one held before it.
    const pipe = (to: net.Socket) => {
      const queue: Array<{ at: number; chunk: Buffer }> = [];
      let timer: NodeJS.Timeout | undefined;
      const drain = () => {
        timer = undefined;
        while (queue.length && queue[0]!.at <= Date.now()) {
          const { chunk } = queue.shift()!;
          if (!to.destroyed) to.write(chunk);
        }
        if (queue.length) timer = setTimeout(drain, queue[0]!.at - Date.now()).unref();
      };
      return (chunk: Buffer, delay: number) => {
        const last = queue.length ? queue[queue.length - 1]!.at : 0;
        queue.push({ at: Math.max(Date.now() + delay, last), chunk });
        if (!timer) drain();
      };
    };
    const toUpstream = pipe(upstream);
    const toClient = pipe(client);

    client.on('data', (chunk: Buffer) => {
      let delay = latency;
      if (opts.stallAfter && !stallDone) {
        if (armed) {
          stallUntil ??= Date.now() + opts.stallAfter.ms;
          if (Date.now() < stallUntil) {
            held++;
            delay = Math.max(delay, stallUntil - Date.now());
          } else stallDone = true;
        }
        for (const m of chunk.toString('latin1').matchAll(COMMAND)) {
          if (opts.stallAfter.command.test(m[1]!)) armed = true;
        }
      }
      toUpstream(chunk, delay);
    });
    upstream.on('data', (chunk: Buffer) => toClient(chunk, latency));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `redis://${HOST}:${port}`,
    get held() {
      return held;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
