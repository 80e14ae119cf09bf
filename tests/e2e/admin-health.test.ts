/**
 * Issue 18 in real Strapi 5.54 (three instances of the playground app with the packed plugin),
 * on a standalone server, a Cluster and a Sentinel set this file starts (DEBUG SLEEP, CONFIG SET
 * and MONITOR are never sent to the shared servers):
 * - the health series are sampled once per interval across the three instances: INFO calls
 *   counted on every node with INFO commandstats (minus the test's own, and on the Sentinel
 *   master minus the sentinels' own INFO, attributed with MONITOR) stay at or under one per node
 *   per interval; killing an instance does not stop the sampling;
 * - the slow log shows commands made slow on purpose (DEBUG SLEEP; a big SORT on the Sentinel
 *   master), the threshold and LATENCY LATEST;
 * - memory by key finds a big key planted among 10,000 small ones, each page within its budget;
 * - TTL edits need plugin::redis.keys.edit, refuse a session key unless confirmed, and are logged
 *   with the admin's id;
 * - every new route: 401 without a token, 403 without its action.
 */
import { hostname } from 'node:os';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomPrefix, startCluster, startSentinel, startStandalone, type ClusterHandle, type SentinelHandle, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

const INTERVAL = 1000;
const p = randomPrefix('e2e-health');
let standalone: ServerHandle;
let cluster: ClusterHandle;
let sentinel: SentinelHandle;
let apps: AppHandle[] = [];
let app: AppHandle;
/** Direct clients: the standalone, each Cluster node, the Sentinel master. */
let direct: Redis;
let clusterClient: Cluster;
let nodeClients: Redis[] = [];
let sentinelMaster: Redis;

interface Answer {
  status: number;
  body: any;
  text: string;
}

async function call(method: string, path: string, token?: string, body?: object): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${app.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

async function ok(method: string, path: string, token: string, body?: object): Promise<any> {
  const res = await call(method, path, token, body);
  expect(res.status === 200 || (res.status === 201 && path.startsWith('/admin/')), `${method} ${path}: ${res.status} ${res.text}`).toBe(true);
  return res.body.data;
}

const tokens: { superAdmin: string; superAdminId: number; reader: string; browser: string; editor: string; none: string } = {} as never;

async function userWithActions(name: string, actions: string[]): Promise<string> {
  const role = await ok('POST', '/admin/roles', tokens.superAdmin, { name: `${name} ${p}`, description: 'e2e' });
  await ok('PUT', `/admin/roles/${role.id}/permissions`, tokens.superAdmin, {
    permissions: actions.map((action) => ({ action, subject: null, properties: {}, conditions: [] })),
  });
  const email = `${name.toLowerCase()}-${Date.now()}@example.com`;
  const user = await ok('POST', '/admin/users', tokens.superAdmin, { firstname: name, lastname: 'E2e', email, roles: [role.id] });
  const registered = await ok('POST', '/admin/register', tokens.superAdmin, {
    registrationToken: user.registrationToken,
    userInfo: { firstname: name, lastname: 'E2e', password: 'Passw0rd-e2e!' },
  });
  return registered.token as string;
}

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  const debug = ['--enable-debug-command', 'yes'];
  [standalone, cluster, sentinel] = await Promise.all([
    startStandalone({ args: [...debug, '--maxmemory', '64mb'] }),
    startCluster({ args: debug }),
    startSentinel({ downAfterMs: 20_000 }),
  ]);
  direct = new Redis(standalone.url);
  clusterClient = new Cluster(cluster.nodes);
  nodeClients = cluster.nodes.map((n) => new Redis({ host: n.host, port: n.port }));
  const master = await sentinel.currentMaster();
  sentinelMaster = new Redis({ host: master.host, port: master.port });
  const pluginConfig = {
    settings: { healthInterval: INTERVAL },
    connections: {
      default: { connection: standalone.url },
      cluster: { connection: { nodes: cluster.nodes } },
      ha: { connection: { sentinels: sentinel.sentinels, name: sentinel.name } },
    },
  };
  apps = await Promise.all([0, 1, 2].map(() => startApp({ pluginConfig, readyTimeoutMs: 180_000 })));
  app = apps[0]!;
  const admin = await call('POST', '/admin/register-admin', undefined, {
    firstname: 'Root',
    lastname: 'E2e',
    email: 'root@example.com',
    password: 'Passw0rd-root!',
  });
  expect(admin.status, admin.text).toBe(200);
  tokens.superAdmin = admin.body.data.token;
  tokens.superAdminId = admin.body.data.user.id;
  tokens.reader = await userWithActions('Reader', ['plugin::redis.read']);
  tokens.browser = await userWithActions('Browser', ['plugin::redis.read', 'plugin::redis.keys.read']);
  tokens.editor = await userWithActions('Editor', ['plugin::redis.read', 'plugin::redis.keys.read', 'plugin::redis.keys.edit']);
  tokens.none = await userWithActions('Nobody', []);
}, 300_000);

afterAll(async () => {
  await Promise.allSettled(apps.filter((a) => a.isRunning()).map((a) => a.stop()));
  for (const client of [direct, clusterClient, sentinelMaster, ...nodeClients]) client?.disconnect();
  await Promise.allSettled([standalone?.stop(), cluster?.stop(), sentinel?.stop()]);
});

const enc = encodeURIComponent;

/** `cmdstat_info` calls of a server so far; the INFO asking is counted from the next call on. */
async function infoCalls(client: Redis): Promise<number> {
  return Number(/cmdstat_info:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
}

describe('RBAC on the new routes', () => {
  const routes: { method: string; path: () => string; action: 'read' | 'keys.read' | 'keys.edit'; body?: () => object }[] = [
    { method: 'GET', path: () => '/redis/connections/default/health', action: 'read' },
    { method: 'GET', path: () => '/redis/connections/default/slowlog', action: 'read' },
    { method: 'GET', path: () => `/redis/connections/default/memory?pattern=${enc(`${p}rbac*`)}`, action: 'keys.read' },
    { method: 'PUT', path: () => '/redis/connections/default/key/ttl', action: 'keys.edit', body: () => ({ key: `${p}rbac`, ttlMs: 600_000 }) },
  ];

  it('registers "Edit keys" (plugin::redis.keys.edit) with the other actions', async () => {
    const data = await ok('GET', '/admin/permissions', tokens.superAdmin);
    const plugins = JSON.stringify(data.sections.plugins);
    for (const action of [
      'plugin::redis.read',
      'plugin::redis.keys.read',
      'plugin::redis.keys.delete',
      'plugin::redis.keys.edit',
      'plugin::redis.keys.read-sessions',
      'plugin::redis.cache.purge',
    ]) {
      expect(plugins).toContain(`"action":"${action}"`);
    }
    expect(plugins).toMatch(/"displayName":"Edit keys"/);
  });

  it.each(routes)('$method $path: 401 without a token, 403 without $action, 200 with it', async (route) => {
    await direct.set(`${p}rbac`, 'x');
    const body = route.body?.();
    expect((await call(route.method, route.path(), undefined, body)).status).toBe(401);
    expect((await call(route.method, route.path(), tokens.none, body)).status).toBe(403);
    const expectFor = (allowed: string[]) => (allowed.includes(route.action) ? 200 : 403);
    expect((await call(route.method, route.path(), tokens.reader, body)).status).toBe(expectFor(['read']));
    expect((await call(route.method, route.path(), tokens.browser, body)).status).toBe(expectFor(['read', 'keys.read']));
    const editor = await call(route.method, route.path(), tokens.editor, body);
    expect(editor.status, editor.text).toBe(200);
  });
});

describe('health series across three instances', () => {
  it('INFO is sent at most once per node per interval in total, on standalone, Cluster and Sentinel', async () => {
    // Let the samplers of the three instances settle (every Cluster link made).
    await waitFor(async () => (await ok('GET', '/redis/connections/cluster/health', tokens.reader)).nodes.length === 6, 30_000, 'six cluster nodes sampled');
    const servers: Array<{ label: string; client: Redis }> = [
      { label: 'standalone', client: direct },
      ...nodeClients.map((client, i) => ({ label: `cluster node ${cluster.nodes[i]!.port}`, client })),
      { label: 'sentinel master', client: sentinelMaster },
    ];
    // The sentinels INFO the master every 10 s each: count theirs with MONITOR, by client name.
    const monitor = await sentinelMaster.monitor();
    const infoBy = new Map<string, number>();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (String(args[0]).toUpperCase() === 'INFO') infoBy.set(source, (infoBy.get(source) ?? 0) + 1);
    });
    const before = await Promise.all(servers.map((s) => infoCalls(s.client)));
    const start = Date.now();
    await new Promise((r) => setTimeout(r, 8 * INTERVAL));
    const after = await Promise.all(servers.map((s) => infoCalls(s.client)));
    const end = Date.now();
    monitor.disconnect();
    const clients = String(await sentinelMaster.client('LIST'))
      .split('\n')
      .map((line) => ({ addr: /addr=(\S+)/.exec(line)?.[1], name: /name=(\S*)/.exec(line)?.[1] ?? '' }));
    const sentinelInfo = [...infoBy].filter(([addr]) => clients.find((c) => c.addr === addr)?.name.startsWith('sentinel-')).reduce((a, [, n]) => a + n, 0);
    // INFO from the 8 s before MONITOR started (at most one per sentinel) may have landed just before `before`; none after.
    const slots = Math.floor(end / INTERVAL) - Math.floor(start / INTERVAL) + 1;
    const counted = servers.map((client, i) => {
      const others = client.label === 'sentinel master' ? sentinelInfo : 0;
      return { label: client.label, calls: after[i]! - before[i]! - 1 - others };
    });
    console.log(`[admin-health e2e] ${slots} slots over ${end - start} ms; INFO calls per node: ${JSON.stringify(counted)}; sentinel INFOs: ${sentinelInfo}`);
    for (const c of counted) {
      expect(c.calls, c.label).toBeLessThanOrEqual(slots);
      expect(c.calls, c.label).toBeGreaterThanOrEqual(Math.floor(slots / 3)); // it does sample (a loaded machine may miss slots)
    }
  }, 60_000);

  it('every instance serves the same series: one point per slot, taken by one of the instances', async () => {
    const views = await Promise.all(['default', 'cluster', 'ha'].map((name) => ok('GET', `/redis/connections/${name}/health`, tokens.reader)));
    const instances = new Set(apps.map((a) => `${hostname()}:${a.pid}`));
    for (const view of views) {
      expect(view).toMatchObject({ enabled: true, source: 'redis', intervalMs: INTERVAL, windowMs: 15 * 60_000 });
      expect(view.t.length).toBeGreaterThanOrEqual(5);
      const slots = view.t.map((t: number) => Math.floor(t / INTERVAL));
      expect(new Set(slots).size).toBe(slots.length);
      for (const by of view.sampledBy) expect(instances.has(by)).toBe(true);
    }
    console.log(
      `[admin-health e2e] points per instance: ${JSON.stringify([...instances].map((i) => views[0].sampledBy.filter((b: string) => b === i).length))}`,
    );
    const [single, clustered, ha] = views;
    expect(single.nodes).toHaveLength(1);
    expect(single.nodes[0]).toMatchObject({ address: `127.0.0.1:${standalone.port}`, role: 'master' });
    expect(single.nodes[0].maxMemoryBytes.at(-1)).toBe(64 * 1024 * 1024);
    expect(single.nodes[0].usedMemoryBytes.at(-1)).toBeGreaterThan(0);
    expect(clustered.nodes.map((n: { role: string }) => n.role)).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
    const master = await sentinel.currentMaster();
    expect(ha.nodes.map((n: { address: string }) => n.address)).toEqual([`${master.host}:${master.port}`]);
    // The series live on the first lock connection (default): one list per connection, capped and expiring.
    for (const name of ['default', 'cluster', 'ha']) {
      expect(await direct.llen(`redis-suite:health:${name}`)).toBeGreaterThanOrEqual(5);
      expect(await direct.pttl(`redis-suite:health:${name}`)).toBeGreaterThan(15 * 60_000 - 5000);
    }
  });

  it('ops and hit ratio follow the traffic', async () => {
    const stop = Date.now() + 3 * INTERVAL;
    while (Date.now() < stop) {
      const pipe = direct.pipeline();
      for (let i = 0; i < 50; i++) pipe.set(`${p}hr:${i}`, 'v');
      for (let i = 0; i < 50; i++) pipe.get(`${p}hr:${i}`);
      await pipe.exec();
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 1.5 * INTERVAL));
    const view = await ok('GET', '/redis/connections/default/health', tokens.reader);
    const node = view.nodes[0];
    const busy = node.opsPerSec.slice(-4).filter((v: number | null) => v !== null);
    expect(Math.max(...busy)).toBeGreaterThan(500);
    expect(Math.max(...node.hitRatio.slice(-4).filter((v: number | null) => v !== null))).toBeGreaterThan(0.9);
  });

  it('killing an instance does not stop the sampling', async () => {
    const victim = apps[2]!;
    await victim.stop('SIGKILL');
    const killedAt = Date.now();
    await waitFor(
      async () => {
        const view = await ok('GET', '/redis/connections/default/health', tokens.reader);
        return view.t.filter((t: number) => t > killedAt + INTERVAL).length >= 3;
      },
      20_000,
      'three points after the kill',
    );
    const view = await ok('GET', '/redis/connections/default/health', tokens.reader);
    const after = view.t.map((t: number, i: number) => [t, view.sampledBy[i]]).filter(([t]: [number]) => t > killedAt + INTERVAL);
    for (const [, by] of after) expect(by).not.toBe(`${hostname()}:${victim.pid}`);
  });
});

describe('slow log', () => {
  it('standalone and a Cluster node: DEBUG SLEEP is listed with its duration and client; arguments only with keys.read; LATENCY LATEST', async () => {
    await direct.config('SET', 'latency-monitor-threshold', '100');
    const slowClient = new Redis({ port: standalone.port, host: '127.0.0.1', connectionName: 'e2e-slow' });
    try {
      await slowClient.call('DEBUG', 'SLEEP', '0.2');
      const view = await ok('GET', '/redis/connections/default/slowlog', tokens.browser);
      const node = view.nodes[0];
      expect(node).toMatchObject({ address: `127.0.0.1:${standalone.port}`, slowerThanUs: 10_000, latency: { enabled: true, thresholdMs: 100 } });
      const entry = node.entries.find((e: { command: string[] }) => e.command[0]?.toUpperCase() === 'DEBUG');
      expect(entry).toMatchObject({ command: ['DEBUG', 'SLEEP', '0.2'], clientName: 'e2e-slow', client: `127.0.0.1:${slowClient.stream.localPort}` });
      expect(entry.durationUs).toBeGreaterThanOrEqual(200_000);
      expect(node.latency.events.find((e: { event: string }) => e.event === 'command').latestMs).toBeGreaterThanOrEqual(200);
      const asReader = await ok('GET', '/redis/connections/default/slowlog', tokens.reader);
      expect(asReader.nodes[0].entries.find((e: { command: string[] }) => e.command[0] === 'DEBUG')).toMatchObject({
        command: ['DEBUG'],
        argumentsWithheld: 2,
        withheld: 'keys.read',
      });
    } finally {
      slowClient.disconnect();
      await direct.config('SET', 'latency-monitor-threshold', '0');
    }

    const target = nodeClients[4]!; // a replica at start: every node is listed, masters and replicas
    await target.call('DEBUG', 'SLEEP', '0.15');
    const view = await ok('GET', '/redis/connections/cluster/slowlog', tokens.browser);
    expect(view.nodes).toHaveLength(6);
    const node = view.nodes.find((n: { address: string }) => n.address === `127.0.0.1:${cluster.nodes[4]!.port}`);
    expect(node.entries.some((e: { command: string[]; durationUs: number }) => e.command.join(' ') === 'DEBUG SLEEP 0.15' && e.durationUs >= 150_000)).toBe(
      true,
    );
  });

  it('sentinel: the master in use, with a big SORT over its threshold', async () => {
    await sentinelMaster.config('SET', 'slowlog-log-slower-than', '5000');
    const key = `${p}sort`;
    for (let i = 0; i < 10; i++) await sentinelMaster.rpush(key, ...Array.from({ length: 20_000 }, (_, j) => String((j * 7919 + i) % 100_003)));
    await sentinelMaster.sort(key, 'LIMIT', '0', '1');
    const view = await ok('GET', '/redis/connections/ha/slowlog', tokens.browser);
    expect(view.nodes).toHaveLength(1);
    const master = await sentinel.currentMaster();
    expect(view.nodes[0]).toMatchObject({ address: `${master.host}:${master.port}`, slowerThanUs: 5000 });
    const sort = view.nodes[0].entries.find((e: { command: string[] }) => e.command[0]?.toUpperCase() === 'SORT');
    expect(sort?.command.slice(0, 2)).toEqual(['sort', key]);
    expect(sort.durationUs).toBeGreaterThanOrEqual(5000);
    await sentinelMaster.unlink(key);
  });
});

describe('memory by key', () => {
  it.each(['default', 'cluster', 'ha'])(
    '%s: a big key planted among 10,000 small ones is ranked first, each page within its budget',
    async (name) => {
      const client: Redis | Cluster = name === 'default' ? direct : name === 'cluster' ? clusterClient : sentinelMaster;
      const base = `${p}mem:${name}:`;
      for (let from = 0; from < 10_000; from += 500)
        await Promise.all(Array.from({ length: 500 }, (_, i) => client.set(`${base}s${from + i}`, String(from + i))));
      await client.set(`${base}big`, 'x'.repeat(200_000));
      const budgetMs = 200;
      let cursor: string | null = '0';
      const top: Array<{ key: string; bytes: number }> = [];
      let scanned = 0;
      let pages = 0;
      while (cursor !== null) {
        const started = Date.now();
        const page: any = await ok(
          'GET',
          `/redis/connections/${name}/memory?pattern=${enc(`${base}*`)}&budgetMs=${budgetMs}&top=5&cursor=${enc(cursor)}`,
          tokens.browser,
        );
        const took = Date.now() - started;
        expect(page.elapsedMs).toBeLessThan(budgetMs + 2000);
        expect(took).toBeLessThan(budgetMs + 5000);
        top.push(...page.top);
        scanned += page.scanned;
        cursor = page.cursor;
        pages++;
        expect(pages).toBeLessThan(300);
      }
      top.sort((a, b) => b.bytes - a.bytes);
      expect(top[0]).toMatchObject({ key: `${base}big`, type: 'string' });
      expect(top[0]!.bytes).toBeGreaterThanOrEqual(200_000);
      expect(scanned).toBe(10_001);
    },
    90_000,
  );
});

describe('TTL edits', () => {
  it("set and remove a TTL, logged with the admin's id; 404 for a missing key; a session key only when confirmed", async () => {
    const key = `${p}ttl`;
    await direct.set(key, 'v');
    const set = await ok('PUT', '/redis/connections/default/key/ttl', tokens.editor, { key, ttlMs: 120_000 });
    expect(set.changed).toBe(true);
    expect(await direct.pttl(key)).toBeGreaterThan(110_000);
    expect(await ok('PUT', '/redis/connections/default/key/ttl', tokens.editor, { key, ttlMs: null })).toEqual({ ttlMs: -1, changed: true });
    expect(await direct.pttl(key)).toBe(-1);
    expect((await call('PUT', '/redis/connections/default/key/ttl', tokens.editor, { key: `${p}missing`, ttlMs: 1000 })).status).toBe(404);
    const bad = await call('PUT', '/redis/connections/default/key/ttl', tokens.editor, { key, ttlMs: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^ttlMs: /);

    const session = `sess:${p}`;
    await direct.set(session, '{}', 'PX', 600_000);
    const refused = await call('PUT', '/redis/connections/default/key/ttl', tokens.editor, { key: session, ttlMs: null });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ name: 'ConflictError', details: { protected: [{ family: 'sessions', prefix: 'sess:', named: true }] } });
    expect(await direct.pttl(session)).toBeGreaterThan(0);
    expect((await call('PUT', '/redis/connections/cluster/key/ttl', tokens.editor, { key: session, ttlMs: null, confirmProtected: 'sess:' })).status).toBe(404); // not on the cluster
    expect(await ok('PUT', '/redis/connections/default/key/ttl', tokens.editor, { key: session, ttlMs: 5000, confirmProtected: 'sess:' })).toMatchObject({
      changed: true,
    });
    expect(await direct.pttl(session)).toBeLessThanOrEqual(5000);

    const editorId = (await ok('GET', '/admin/users/me', tokens.editor)).id;
    await waitFor(() => app.logs().includes(`[redis] admin ${editorId} removed the TTL of key "${key}" on connection "default"`), 10_000, 'the TTL log line');
    expect(app.logs()).toContain(`[redis] admin ${editorId} set the TTL of key "${key}" on connection "default" to 120000 ms`);
    expect(app.logs()).toContain(`[redis] admin ${editorId} set the TTL of key "${session}" on connection "default" to 5000 ms`);
    await direct.unlink(key, session);
  });
});
