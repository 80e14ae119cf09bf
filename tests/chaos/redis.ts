/**
 * The chaos run's Redis per topology, from the test harness (tests/harness/servers.ts), with AOF
 * (`appendfsync always`, so an acknowledged write survives a SIGKILL), and the Redis faults it can
 * inject. Each fault resolves once the system is whole again (Redis answering, a master elected).
 */
import * as fs from 'node:fs';
import { parseInfo, redisCommand, startCluster, startSentinel, startStandalone, type HostPort, type ServerHandle } from '../harness/servers.js';
import type { RedisFaultKind, Topology } from './common.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const AOF = ['--appendonly', 'yes', '--appendfsync', 'always'];

export interface ChaosRedis {
  topology: Topology;
  /** The plugin's `connection` value (a URL, `{ sentinels, name }`, or `{ nodes }`). */
  connection: unknown;
  servers(): ServerHandle[];
  /** Runs one fault; resolves with a note once Redis answers again. */
  fault(kind: RedisFaultKind, holdMs: number, r: () => number): Promise<string>;
  stop(): Promise<void>;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}`);
}

const answers = (handle: ServerHandle): Promise<boolean> =>
  redisCommand(handle, ['PING'], 1000).then(
    (v) => v === 'PONG',
    () => false,
  );

async function clientKill(targets: ServerHandle[]): Promise<string> {
  let killed = 0;
  for (const handle of targets) {
    if (!handle.isAlive()) continue;
    killed += Number(await redisCommand(handle, ['CLIENT', 'KILL', 'TYPE', 'normal'], 3000).catch(() => 0));
  }
  return `${killed} connections closed`;
}

/**
 * The servers' folders (their AOF) go to /dev/shm when it exists: `appendfsync always` there costs
 * no disk flush, and the data still survives the process SIGKILLs the run injects (the memory is the
 * kernel's, not the process'). On the shared machine's disk each fsync could stall for hundreds of
 * ms behind other jobs' I/O, and the run would measure that disk instead of the plugin.
 */
export async function startChaosRedis(topology: Topology, password: string): Promise<ChaosRedis> {
  const shm = '/dev/shm';
  const saved = process.env.TMPDIR;
  if (fs.existsSync(shm)) process.env.TMPDIR = shm;
  try {
    const redis = await start(topology, password);
    const dirs = redis.servers().map((x) => x.dir);
    const stop = redis.stop;
    // The harness removes only folders under the current os.tmpdir(): these are removed here.
    redis.stop = async () => {
      try {
        await stop();
      } finally {
        for (const dir of dirs) if (dir.startsWith(`${shm}/redis-suite-harness-`)) fs.rmSync(dir, { recursive: true, force: true });
      }
    };
    return redis;
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

async function start(topology: Topology, password: string): Promise<ChaosRedis> {
  if (topology === 'standalone') {
    const server = await startStandalone({ password, args: AOF });
    return {
      topology,
      connection: server.url,
      servers: () => [server],
      async fault(kind, holdMs) {
        if (kind === 'redis-kill') {
          await server.kill('SIGKILL');
          await sleep(holdMs);
          await server.restart();
          return `SIGKILL, down ${holdMs} ms, restarted from its AOF`;
        }
        if (kind === 'redis-stop') {
          server.pause();
          await sleep(holdMs);
          server.resume();
          await until('redis to answer after SIGCONT', 10_000, () => answers(server));
          return `SIGSTOP ${holdMs} ms`;
        }
        if (kind === 'client-kill') return clientKill([server]);
        throw new Error(`chaos: ${kind} is not a standalone fault`);
      },
      stop: () => server.stop(),
    };
  }

  if (topology === 'sentinel') {
    const handle = await startSentinel();
    const data = [handle.master, handle.replica];
    for (const srv of data) {
      await redisCommand(srv, ['CONFIG', 'SET', 'appendonly', 'yes'], 5000);
      await redisCommand(srv, ['CONFIG', 'SET', 'appendfsync', 'always'], 5000);
      await redisCommand(srv, ['CONFIG', 'REWRITE'], 5000);
    }
    const current = async (): Promise<ServerHandle> => {
      const at: HostPort = await handle.currentMaster();
      const srv = data.find((d) => d.port === at.port);
      if (!srv) throw new Error(`chaos: sentinel names an unknown master ${at.host}:${at.port}`);
      return srv;
    };
    const masterIsNot = (port: number) => async (): Promise<boolean> => {
      const m = await current();
      if (m.port === port) return false;
      const role = parseInfo(await redisCommand(m, ['INFO', 'replication'], 1000)).role;
      return role === 'master';
    };
    const replicaLinked = async (): Promise<boolean> => {
      const m = await current();
      const other = data.find((d) => d !== m);
      if (!other?.isAlive()) return false;
      const info = parseInfo(await redisCommand(other, ['INFO', 'replication'], 1000));
      return info.role === 'slave' && info.master_port === String(m.port) && info.master_link_status === 'up';
    };
    return {
      topology,
      connection: { sentinels: handle.sentinels, name: handle.name },
      servers: () => [...data, ...handle.sentinelServers],
      async fault(kind, holdMs) {
        const m = await current();
        if (kind === 'sentinel-failover') {
          // Soon after a change of master (an earlier fault), Sentinel may not count the replica as
          // a good one yet (NOGOODSLAVE: its view of it is older than its INFO period, or it still
          // sees it down) or still runs the last failover (INPROG): the fault waits for that. A
          // failover Sentinel accepted can still be aborted (the replica not promoted within
          // failover-timeout, 5 s here): the fault asks again, up to three times.
          let refused = 0;
          let attempts = 0;
          const deadline = Date.now() + 70_000;
          for (;;) {
            if (attempts > 0 && (await masterIsNot(m.port)().catch(() => false))) break; // the last attempt made it after all
            try {
              await redisCommand(handle.sentinelServers[0] as ServerHandle, ['SENTINEL', 'FAILOVER', handle.name], 5000);
            } catch (err) {
              if (!/NOGOODSLAVE|INPROG/.test((err as Error).message) || Date.now() > deadline) throw err;
              refused++;
              await sleep(500);
              continue;
            }
            attempts++;
            try {
              await until('a new master after SENTINEL FAILOVER', 20_000, masterIsNot(m.port));
              break;
            } catch (err) {
              if (attempts >= 3 || Date.now() > deadline) throw err;
            }
          }
          await until('the old master to replicate the new one', 20_000, replicaLinked);
          const retried = [refused ? `refused ${refused} time(s) first, retried every 500 ms` : '', attempts > 1 ? `${attempts} attempts` : ''].filter(Boolean);
          return `SENTINEL FAILOVER: ${m.port} -> ${(await current()).port}${retried.length ? ` (${retried.join('; ')})` : ''}`;
        }
        if (kind === 'master-kill') {
          await m.kill('SIGKILL');
          await until('a new master after the master SIGKILL', 30_000, masterIsNot(m.port));
          await sleep(holdMs);
          await m.restart();
          await until('the restarted old master to replicate the new one', 30_000, replicaLinked);
          return `master ${m.port} SIGKILL, ${(await current()).port} promoted, old master back as a replica`;
        }
        if (kind === 'redis-stop') {
          m.pause();
          await sleep(holdMs);
          m.resume();
          await until('a master answering after SIGCONT', 30_000, async () => answers(await current()));
          await until('the replica linked after SIGCONT', 30_000, replicaLinked);
          return `master ${m.port} SIGSTOP ${holdMs} ms (master now ${(await current()).port})`;
        }
        if (kind === 'client-kill') return clientKill([m]);
        throw new Error(`chaos: ${kind} is not a sentinel fault`);
      },
      stop: () => handle.stop(),
    };
  }

  const client = await startCluster({ args: AOF });
  const clusterOk = async (): Promise<boolean> => {
    for (const srv of client.servers) {
      if (!srv.isAlive()) continue;
      const info = parseInfo(await redisCommand(srv, ['CLUSTER', 'INFO'], 1000));
      if (info.cluster_state !== 'ok') return false;
    }
    return true;
  };
  const masters = async (): Promise<ServerHandle[]> => {
    const replicas = new Set((await client.replicas()).map((x) => x.port));
    return client.servers.filter((x) => x.isAlive() && !replicas.has(x.port));
  };
  const everyNodeBack = async (): Promise<boolean> => {
    if (!(await clusterOk())) return false;
    return (await masters()).length === 3 && (await client.replicas()).length === 3;
  };
  return {
    topology,
    connection: { nodes: client.nodes.slice(0, 3) },
    servers: () => client.servers,
    async fault(kind, holdMs, r) {
      const list = await masters();
      const m = list[Math.floor(r() * list.length)] as ServerHandle;
      if (kind === 'cluster-master-kill') {
        await m.kill('SIGKILL');
        await until('cluster_state:ok after the master SIGKILL (a replica promoted)', 30_000, clusterOk);
        await sleep(holdMs);
        await m.restart();
        await until('every node back (3 masters, 3 replicas)', 30_000, everyNodeBack);
        return `master ${m.port} SIGKILL, a replica promoted, it rejoined as a replica`;
      }
      if (kind === 'redis-stop') {
        m.pause();
        await sleep(holdMs);
        m.resume();
        await until('every node back after SIGCONT', 30_000, everyNodeBack);
        return `master ${m.port} SIGSTOP ${holdMs} ms`;
      }
      if (kind === 'client-kill') return clientKill(client.servers);
      throw new Error(`chaos: ${kind} is not a cluster fault`);
    },
    stop: () => client.stop(),
  };
}
