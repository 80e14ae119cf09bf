/**
 * The admin panel in a real browser: the playground Strapi 5.54 app with the packed plugin and
 * its admin build (`node scripts/playground.mjs admin-build`), served with PLAYGROUND_SERVE_ADMIN=1,
 * driven by Debian's Chromium through playwright-core. Each view is opened the way an admin does
 * (log in through the form, follow the links) and what it shows is checked against Redis itself:
 * a password-protected standalone server, a Cluster (3 masters + 3 replicas) and a Sentinel set,
 * all started for this file. A screenshot of every view goes to test-artifacts/admin/.
 *
 * Run: npm run test:admin (builds the plugin and the admin first). CHROMIUM_PATH overrides
 * /usr/bin/chromium. UPDATE_DOCS_SCREENSHOTS=1 also copies the screenshots to docs/screenshots/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensurePlaygroundInstalled, ROOT_DIR, startApp, type AppHandle } from '../e2e/app.js';
import { randomPrefix, startCluster, startSentinel, startStandalone, type ClusterHandle, type SentinelHandle, type ServerHandle } from '../harness/servers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT_DIR, 'test-artifacts', 'admin');
const DOCS_SCREENSHOTS = path.join(ROOT_DIR, 'docs', 'screenshots');

/** The server's password: it must never reach the browser. */
const PASSWORD = 'Browser-Canary-Secret-4471';
const p = randomPrefix('admin-ui');
const CACHE_PREFIX = `${p}cache:`;
const ARTICLE_TAG = 'ct:api::article.article';
const CRON_TASK = 'adminPanelTick';
const SUPER = { email: 'admin-browser@example.com', password: 'Browser-Test-Passw0rd' };
const READER = { email: 'reader-browser@example.com', password: 'Reader-Test-Passw0rd' };
const BROWSER_ONLY = { email: 'keys-browser@example.com', password: 'Keys-Test-Passw0rd' };
const NO_REDIS = { email: 'no-redis@example.com', password: 'Outsider-Test-Passw0rd' };

/** What the test writes, and what the Keys view must list for `${p}:*`. */
const SEEDED = {
  str: { key: `${p}:str`, type: 'string', ttlMs: 3_600_000 },
  hash: { key: `${p}:hash`, type: 'hash' },
  list: { key: `${p}:big`, type: 'list', length: 150 },
  set: { key: `${p}:set`, type: 'set' },
  zset: { key: `${p}:zset`, type: 'zset' },
  del1: { key: `${p}:del:1`, type: 'string' },
  del2: { key: `${p}:del:2`, type: 'string' },
  del3: { key: `${p}:del:3`, type: 'string' },
};

const MANY = 450;

/** A session as the session store writes it (default prefix `sess:`): its value is credentials-equivalent. */
const SESSION_SECRET = 'session-payload-canary-5519';
const SESSION = { key: `sess:${p}:viewed`, value: JSON.stringify({ grant: { state: SESSION_SECRET } }) };
/** A session deleted through "Delete by pattern" once its family is confirmed. */
const SESSION_DOOMED = `sess:${p}:doomed`;

let standalone: ServerHandle;
let cluster: ClusterHandle;
let sentinel: SentinelHandle;
let redis: Redis;
let clusterClient: Cluster;
let app: AppHandle;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];
const timings: Record<string, number> = {};

const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  try {
    return await fn();
  } finally {
    timings[label] = Date.now() - started;
  }
};

async function api(method: string, route: string, body?: object, token?: string): Promise<any> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${app.url}${route}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route} -> ${res.status}: ${text}`);
  return JSON.parse(text).data;
}

async function screenshot(target: Page, name: string): Promise<void> {
  // Let transitions and the last fetch settle so the picture shows the asserted state.
  // No toast from the previous step and no hover tooltip in the picture.
  for (const toast of await target.locator('[data-sonner-toast]').all()) {
    await toast
      .getByRole('button')
      .last()
      .click({ timeout: 2_000 })
      .catch(() => undefined);
  }
  await target
    .locator('[data-sonner-toast]')
    .first()
    .waitFor({ state: 'detached', timeout: 5_000 })
    .catch(() => undefined);
  await target.mouse.move(1400, 880);
  await target.evaluate('document.activeElement && document.activeElement.blur()'); // a focused menu link shows its tooltip
  await target.waitForTimeout(300);
  await target.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function login(target: Page, who: { email: string; password: string }): Promise<void> {
  await target.goto(`${app.url}/admin/auth/login`);
  await target.locator('input[name="email"]').fill(who.email);
  await target.locator('input[name="password"]').fill(who.password);
  await target.getByRole('button', { name: /login/i }).click();
  await target.waitForURL((url) => !url.pathname.includes('/auth/'), { timeout: 60_000 });
  // Strapi 5.54 greets a new admin with a banner about its media library: close it so that it
  // does not cover the views in the screenshots.
  const banner = target
    .locator('div', { has: target.getByText('Introducing the new Media Library') })
    .filter({ has: target.getByRole('button') })
    .last();
  if (
    await banner.waitFor({ timeout: 5_000 }).then(
      () => true,
      () => false,
    )
  ) {
    await banner.getByRole('button').last().click();
    await banner.waitFor({ state: 'detached' });
  }
}

/** Open a view through the plugin's side navigation, as an admin does. */
async function openView(target: Page, label: string, heading = label): Promise<void> {
  await target.getByRole('link', { name: label, exact: true }).click();
  await target.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
}

/** Pick an option of a design-system select, found by its label. */
async function choose(target: Page, label: string, option: string): Promise<void> {
  await target.getByRole('combobox', { name: label }).click();
  await target.getByRole('option', { name: option, exact: true }).click();
}

/** The Keys view after searching `pattern`: waits until the scan is complete. */
async function searchKeys(target: Page, pattern: string): Promise<string[]> {
  await target.getByLabel('Pattern (SCAN MATCH)').fill(pattern);
  await target.getByRole('button', { name: 'Search' }).click();
  await expect
    .poll(() => target.getByTestId('keys-summary').textContent(), { timeout: 30_000 })
    .toMatch(new RegExp(` matching ${escapeRegExp(pattern)}, scan complete$`));
  return (await target.getByTestId('key-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key') ?? ''))).sort();
}

let superTokenCache: Promise<string> | undefined;
/** The super admin's token, from one login (Strapi limits admin logins per IP and email). */
function superToken(): Promise<string> {
  superTokenCache ??= api('POST', '/admin/login', SUPER).then((data) => data.token as string);
  return superTokenCache;
}

/** A role with exactly `actions` and a registered admin in it (through the admin API, as the super admin). */
async function adminWithActions(who: { email: string; password: string }, label: string, actions: string[]): Promise<void> {
  const token = await superToken();
  const role = await api('POST', '/admin/roles', { name: `${label} ${p}`, description: 'browser test' }, token);
  await api(
    'PUT',
    `/admin/roles/${role.id}/permissions`,
    { permissions: actions.map((action) => ({ action, subject: null, properties: {}, conditions: [] })) },
    token,
  );
  const user = await api('POST', '/admin/users', { firstname: label, lastname: 'Test', email: who.email, roles: [role.id] }, token);
  await api('POST', '/admin/register', {
    registrationToken: user.registrationToken,
    userInfo: { firstname: label, lastname: 'Test', password: who.password },
  });
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const row = (target: Page, key: string) => target.locator(`[data-testid="key-row"][data-key="${key}"]`);

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  // Where scripts/playground.mjs admin-build puts the admin (app folders link to it).
  const playground = (await import(pathToFileURL(path.join(ROOT_DIR, 'scripts', 'playground.mjs')).href)) as { ADMIN_BUILD_DIR: string };
  if (!fs.existsSync(path.join(playground.ADMIN_BUILD_DIR, 'index.html'))) {
    throw new Error(`no admin build in ${playground.ADMIN_BUILD_DIR}: run \`node scripts/playground.mjs admin-build\` (npm run test:admin does)`);
  }
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await ensurePlaygroundInstalled({ quiet: true });

  [standalone, cluster, sentinel] = await timed('redis', () =>
    Promise.all([
      // maxmemory: the health view draws it; DEBUG: the slow log test makes a command slow on purpose (this file's own server)
      startStandalone({ password: PASSWORD, args: ['--maxmemory', '256mb', '--enable-debug-command', 'yes'] }),
      startCluster(),
      startSentinel({ downAfterMs: 15_000 }),
    ]),
  );
  redis = new Redis(standalone.url);
  clusterClient = new Cluster(cluster.nodes);

  await redis.set(SEEDED.str.key, 'hello from the admin panel test', 'PX', SEEDED.str.ttlMs);
  await redis.hset(SEEDED.hash.key, { field1: 'one', field2: 'two' });
  await redis.rpush(SEEDED.list.key, ...Array.from({ length: SEEDED.list.length }, (_, i) => `item-${i}`));
  await redis.sadd(SEEDED.set.key, 'a', 'b', 'c');
  await redis.zadd(SEEDED.zset.key, 1, 'first', 2, 'second');
  for (const entry of [SEEDED.del1, SEEDED.del2, SEEDED.del3]) await redis.set(entry.key, 'to delete');
  await clusterClient.set(`${p}:on-cluster`, 'x');
  await redis.set(SESSION.key, SESSION.value, 'PX', 3_600_000);
  await redis.set(SESSION_DOOMED, '{}', 'PX', 3_600_000);
  // More keys than one SCAN page (COUNT 200): the Keys view needs "Load more" to list them all.
  await redis.mset(Object.fromEntries(Array.from({ length: MANY }, (_, i) => [`${p}-many:${i}`, String(i)])));

  const cacheConfig = { connection: 'default', prefix: CACHE_PREFIX, maxAge: 600_000, contentTypes: ['api::article.article'] };
  app = await timed('boot', () =>
    startApp({
      pluginConfig: {
        // Health samples every second, so the charts have points within the test.
        settings: { enableRedlock: true, healthInterval: 1000 },
        connections: {
          default: { connection: standalone.url },
          cluster: { connection: { nodes: cluster.nodes } },
          ha: { connection: { sentinels: sentinel.sentinels, name: sentinel.name } },
        },
      },
      middlewares: `module.exports = (defaults) => [...defaults, { name: 'plugin::redis.cache', config: ${JSON.stringify(cacheConfig)} }];`,
      cronTasks: `module.exports = { ${CRON_TASK}: { task: async () => {}, options: { rule: '*/2 * * * * *' } } };`,
      env: { PLAYGROUND_SERVE_ADMIN: '1' },
      readyTimeoutMs: 120_000,
    }),
  );

  // The first admin, as the registration screen creates it.
  await api('POST', '/admin/register-admin', { firstname: 'Browser', lastname: 'Test', ...SUPER });

  browser = await timed('chromium', () =>
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    }),
  );
  context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
  context.setDefaultTimeout(30_000);
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  const exit = await app?.stop();
  if (exit && process.env.ADMIN_TEST_LOGS === '1') console.log(app.logs());
  redis?.disconnect();
  clusterClient?.disconnect();
  await Promise.allSettled([standalone?.stop(), cluster?.stop(), sentinel?.stop()]);
  if (process.env.UPDATE_DOCS_SCREENSHOTS === '1' && fs.existsSync(ARTIFACTS)) {
    fs.mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    for (const name of fs.readdirSync(ARTIFACTS)) {
      if (name.endsWith('.png')) fs.copyFileSync(path.join(ARTIFACTS, name), path.join(DOCS_SCREENSHOTS, name));
    }
  }
  fs.writeFileSync(path.join(ARTIFACTS, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  console.log(`[admin browser test] timings (ms): ${JSON.stringify(timings)}`);
});

describe('admin panel in Chromium', () => {
  it('logs in through the form and shows the Redis menu link', async () => {
    await timed('login', () => login(page, SUPER));
    const link = page.getByRole('link', { name: 'Redis', exact: true });
    await link.waitFor();
    await link.click();
    await page.keyboard.press('Escape'); // the menu link's tooltip, which its click leaves open
    // The plugin page opens on the dashboard.
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/plugins/redis/dashboard');
  });

  it('Dashboard: a card per connection with its state, memory and ops from the shared series, and the features with their counters', async () => {
    // A miss then a hit, so the cache's counters say something.
    for (let i = 0; i < 2; i++) expect((await fetch(`${app.url}/api/articles`)).status).toBe(200);
    const card = page.getByTestId('connection-default');
    await expect.poll(() => card.getByTestId('connection-state').textContent()).toBe('ready');
    // Points arrive every second; the dashboard refreshes every 5 s.
    await expect.poll(async () => Number(await card.getByTestId('spark-ops').getAttribute('data-points')), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const shown = Number(await card.getByTestId('card-memory').getAttribute('data-value'));
    expect(shown).toBeGreaterThan(used * 0.7);
    expect(shown).toBeLessThan(used * 1.3);
    expect(await card.getByTestId('card-memory').textContent()).toContain('/ 256 MiB');
    const features = await card.getByTestId('connection-features').textContent();
    for (const feature of ['locks', 'cron', 'cache']) expect(features).toContain(feature);
    const token = await superToken();
    await expect
      .poll(
        async () => {
          const stats = await api('GET', '/redis/stats', undefined, token);
          const ratio = `${((stats.cache.hits / (stats.cache.hits + stats.cache.misses)) * 100).toFixed(1)}%`;
          return (await card.getByTestId('feature-cache-hit-ratio').getAttribute('data-value')) === ratio && stats.cache.hits >= 1;
        },
        { timeout: 15_000 },
      )
      .toBe(true);
    expect(Number(await card.getByTestId('feature-cron-runs').getAttribute('data-value'))).toBeGreaterThanOrEqual(1);

    // The Cluster's memory is its masters'.
    const clusterCard = page.getByTestId('connection-cluster');
    await expect
      .poll(async () => Number(await clusterCard.getByTestId('spark-memory').getAttribute('data-points')), { timeout: 30_000 })
      .toBeGreaterThanOrEqual(1);
    let masters = 0;
    for (const node of cluster.servers) {
      const client = new Redis({ host: '127.0.0.1', port: node.port });
      const text = await client.info().finally(() => client.disconnect());
      if (/role:master/.test(text)) masters += Number(/used_memory:(\d+)/.exec(text)![1]);
    }
    const clusterShown = Number(await clusterCard.getByTestId('card-memory').getAttribute('data-value'));
    expect(clusterShown).toBeGreaterThan(masters * 0.7);
    expect(clusterShown).toBeLessThan(masters * 1.3);
    await expect.poll(() => page.getByTestId('connection-ha').getByTestId('connection-state').textContent()).toBe('ready');
    expect(await page.getByTestId('dashboard-ready').textContent()).toBe('3 of 3 connections ready');
    expect(await page.getByTestId('dashboard-sampler').textContent()).toContain('every 1 s across every instance');
    expect(await page.content()).not.toContain(PASSWORD);
  });

  it('Connections: every connection with topology, state, ping and features, no credentials', async () => {
    await openView(page, 'Connections');
    const main = page.getByTestId('connection-default');
    await expect.poll(() => main.getByTestId('connection-state').textContent()).toBe('ready');
    expect(await main.getByTestId('connection-topology').textContent()).toBe('Standalone');
    expect(await main.getByTestId('connection-endpoint').textContent()).toContain(`127.0.0.1:${standalone.port}`);
    expect(await main.getByTestId('connection-ping').textContent()).toMatch(/^\d+(\.\d)? ms$/);
    const features = await main.getByTestId('connection-features').textContent();
    expect(features).toContain('cache');
    expect(features).toContain('cron');

    const clusterRow = page.getByTestId('connection-cluster');
    await expect.poll(() => clusterRow.getByTestId('connection-state').textContent()).toBe('ready');
    expect(await clusterRow.getByTestId('connection-topology').textContent()).toBe('Cluster');
    const nodes = await clusterRow.getByTestId('connection-node').allTextContents();
    const clusterPorts = cluster.nodes.map((node) => `127.0.0.1:${node.port}`);
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const line of nodes) expect(clusterPorts.some((address) => line.startsWith(address))).toBe(true);

    const ha = page.getByTestId('connection-ha');
    await expect.poll(() => ha.getByTestId('connection-state').textContent()).toBe('ready');
    expect(await ha.getByTestId('connection-topology').textContent()).toBe('Sentinel');
    const master = await sentinel.currentMaster();
    expect((await ha.getByTestId('connection-node').allTextContents()).join('\n')).toContain(`${master.host}:${master.port}`);

    const html = await page.content();
    expect(html).not.toContain(PASSWORD);
    await screenshot(page, '1-connections');
  });

  it('Connections: a master that hangs (SIGSTOP) shows as not answering, and the line goes once it answers again', async () => {
    await openView(page, 'Connections');
    const ha = page.getByTestId('connection-ha');
    await expect.poll(() => ha.getByTestId('connection-state').textContent()).toBe('ready');
    const at = await sentinel.currentMaster();
    const master = [sentinel.master, sentinel.replica].find((s) => s.port === at.port)!;
    const shown = async (): Promise<string | null> => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      const line = ha.getByTestId('connection-unanswered');
      return (await line.count()) > 0 ? await line.textContent() : null;
    };
    // Sentinel's down-after is 15 s here: no failover while it hangs.
    master.pause();
    try {
      // The first status after the hang began waits out the ping's bound; from then on the connection refuses at once.
      await expect
        .poll(shown, { timeout: 12_000, interval: 500 })
        .toMatch(/^not answering: a command has waited [\d.]+ (ms|s) \(its bound [\d.]+ (ms|s)\); commands fail at once until it answers$/);
      // still "ready": the socket is open
      expect(await ha.getByTestId('connection-state').textContent()).toBe('ready');
      await screenshot(page, '1b-connection-not-answering');
    } finally {
      master.resume();
    }
    await expect.poll(shown, { timeout: 12_000, interval: 500 }).toBeNull();
  });

  it('Server: INFO of the standalone server, as Redis reports it', async () => {
    await openView(page, 'Server');
    const info = Object.fromEntries(
      (await redis.info())
        .split('\r\n')
        .filter((line) => line.includes(':'))
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
    );
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    const node = page.getByTestId(`server-node-127.0.0.1:${standalone.port}`);
    await node.waitFor();
    expect(await node.getByTestId('stat-version').textContent()).toContain(info.redis_version);
    expect(await node.getByTestId('stat-role').textContent()).toBe(info.role);
    expect(await node.getByTestId('stat-policy').textContent()).toBe(policy);
    const maxShown = await node.getByTestId('stat-memory-max').textContent();
    if (Number(info.maxmemory) > 0) expect(maxShown).not.toBe('unlimited');
    else expect(maxShown).toBe('unlimited');
    expect(Number((await node.getByTestId('stat-clients').textContent())?.replace(/,/g, ''))).toBeGreaterThanOrEqual(1);
    expect(await node.getByTestId('stat-uptime').textContent()).toMatch(/\d/);
    expect(await page.content()).not.toContain(PASSWORD);
    await screenshot(page, '2-server');
  });

  it('Server: a Cluster connection shows every node with its role', async () => {
    await choose(page, 'Connection', 'cluster (cluster)');
    await expect.poll(() => page.locator('[data-testid^="server-node-"]').count(), { timeout: 30_000 }).toBe(cluster.nodes.length);
    // INFO says `master` or `slave` (Redis) / `replica`: 3 masters, 3 replicas.
    const roles = await page.getByTestId('stat-role').allTextContents();
    expect(roles.filter((role) => role === 'master')).toHaveLength(3);
    expect(roles.filter((role) => role === 'slave' || role === 'replica')).toHaveLength(3);
    await screenshot(page, '3-server-cluster');
  });

  it('Health: the charts of the standalone server, as the sampler saw it', async () => {
    await openView(page, 'Health');
    const memory = page.getByTestId('chart-memory');
    await memory.waitFor();
    expect(
      await page
        .locator('[data-testid^="chart-"][data-testid]')
        .filter({ has: page.locator('svg') })
        .count(),
    ).toBe(8);
    const used = memory.locator('[data-testid="chart-legend"][data-label="used"]');
    await expect.poll(async () => Number(await used.getAttribute('data-value')), { timeout: 30_000 }).toBeGreaterThan(0);
    const info = await redis.info('memory');
    const usedNow = Number(/used_memory:(\d+)/.exec(info)![1]);
    expect(Number(await used.getAttribute('data-value'))).toBeGreaterThan(usedNow * 0.7);
    expect(Number(await used.getAttribute('data-value'))).toBeLessThan(usedNow * 1.3);
    // maxmemory, drawn as the reference line
    expect(Number(await memory.getByTestId('chart-legend-reference').getAttribute('data-value'))).toBe(256 * 1024 * 1024);
    // rates need two points
    const ops = page.getByTestId('chart-ops').getByTestId('chart-legend');
    await expect.poll(async () => (await ops.getAttribute('data-value')) !== '', { timeout: 30_000 }).toBe(true);
    expect(Number(await ops.getAttribute('data-value'))).toBeGreaterThan(0);
    const clients = page.getByTestId('chart-clients').locator('[data-testid="chart-legend"][data-label="connected"]');
    expect(Number(await clients.getAttribute('data-value'))).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('health-source').getAttribute('data-source')).toBe('redis');
    await page.waitForTimeout(3000); // a few more points for the picture
    await screenshot(page, '14-health');
  });

  it('Health: a Cluster connection has a series per node', async () => {
    await choose(page, 'Connection', 'cluster (cluster)');
    await page.getByRole('combobox', { name: 'Node' }).click();
    const options = await page.getByRole('option').allTextContents();
    await page.keyboard.press('Escape');
    expect(options.filter((o) => o.endsWith('(master)'))).toHaveLength(3);
    expect(options.filter((o) => o.endsWith('(replica)'))).toHaveLength(3);
    for (const option of options) expect(cluster.nodes.some((node) => option.startsWith(`127.0.0.1:${node.port}`))).toBe(true);
    await page.getByTestId('chart-cpu').waitFor();
    await screenshot(page, '15-health-cluster');
  });

  it('Slow log: a command made slow on purpose, with its duration and client, the threshold and the latency monitor', async () => {
    await redis.config('SET', 'latency-monitor-threshold', '100');
    await redis.client('SETNAME', 'browser-test');
    await redis.call('DEBUG', 'SLEEP', '0.2');
    await openView(page, 'Slow log');
    const node = page.getByTestId(`slowlog-node-127.0.0.1:${standalone.port}`);
    await node.waitFor();
    const [, threshold] = (await redis.config('GET', 'slowlog-log-slower-than')) as [string, string];
    expect(await node.getByTestId('slowlog-threshold').getAttribute('data-us')).toBe(threshold);
    const entry = node.getByTestId('slowlog-entry').filter({ has: page.getByTestId('slowlog-command').getByText('DEBUG SLEEP 0.2', { exact: true }) });
    await entry.first().waitFor();
    expect(Number(await entry.first().getByTestId('slowlog-duration').getAttribute('data-us'))).toBeGreaterThanOrEqual(200_000);
    expect(await entry.first().getByTestId('slowlog-client').textContent()).toBe(`127.0.0.1:${redis.stream.localPort} (browser-test)`);
    const [latest] = (await redis.call('LATENCY', 'LATEST')) as [string, number, number, number][];
    const event = node.locator(`[data-testid="latency-event"][data-event="${latest![0]}"]`);
    expect(await event.getByTestId('latency-latest').textContent()).toBe(`${latest![2]} ms`);
    expect(await page.content()).not.toContain(PASSWORD);
    await screenshot(page, '16-slowlog');
    await redis.config('SET', 'latency-monitor-threshold', '0');
  });

  it('Keys: SCAN by pattern lists the seeded keys with type, TTL and length', async () => {
    await openView(page, 'Keys');
    const listed = await searchKeys(page, `${p}:*`);
    expect(listed).toEqual(
      Object.values(SEEDED)
        .map((entry) => entry.key)
        .sort(),
    );

    for (const entry of Object.values(SEEDED)) {
      expect(await row(page, entry.key).getByTestId('key-type').textContent(), entry.key).toBe(await redis.type(entry.key));
    }
    const ttlShown = Number(await row(page, SEEDED.str.key).getByTestId('key-ttl').getAttribute('data-ttl-ms'));
    const ttlNow = await redis.pttl(SEEDED.str.key);
    expect(ttlShown).toBeGreaterThanOrEqual(ttlNow);
    expect(ttlShown).toBeLessThanOrEqual(SEEDED.str.ttlMs);
    expect(await row(page, SEEDED.hash.key).getByTestId('key-ttl').textContent()).toBe('no expiry');
    expect(await row(page, SEEDED.list.key).getByTestId('key-length').textContent()).toBe(String(await redis.llen(SEEDED.list.key)));
    expect(await row(page, SEEDED.hash.key).getByTestId('key-length').textContent()).toBe(String(await redis.hlen(SEEDED.hash.key)));
    await screenshot(page, '4-keys');
  });

  it('Keys: a value is shown, with the truncated flag when only part of it was sent', async () => {
    await page.getByRole('button', { name: `View ${SEEDED.str.key}` }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByTestId('key-value').textContent()).toBe(await redis.get(SEEDED.str.key));
    expect(await dialog.getByTestId('value-truncated').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: `View ${SEEDED.list.key}` }).click();
    await page.getByRole('dialog').getByTestId('value-truncated').waitFor();
    const shown = await page.getByRole('dialog').locator('tbody tr').count();
    expect(shown).toBe(100);
    expect(await page.getByRole('dialog').locator('tbody tr').first().textContent()).toContain(await redis.lindex(SEEDED.list.key, 0));
    await screenshot(page, '5-keys-value');
    await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it("Keys: an admin with every permission sees a session's value", async () => {
    expect(await searchKeys(page, `sess:${p}:v*`)).toEqual([SESSION.key]);
    await page.getByRole('button', { name: `View ${SESSION.key}` }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.getByTestId('key-value').textContent()).toBe(SESSION.value);
    expect(await dialog.getByTestId('value-withheld').count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    await searchKeys(page, `${p}:*`);
  });

  it('Keys: deleting one key after confirmation removes it from Redis', async () => {
    await page.getByRole('button', { name: `Delete ${SEEDED.hash.key}` }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await row(page, SEEDED.hash.key).waitFor({ state: 'detached' });
    expect(await redis.exists(SEEDED.hash.key)).toBe(0);
    expect(await redis.exists(SEEDED.str.key)).toBe(1);
  });

  it('Keys: deleting by pattern needs the pattern typed, then removes exactly the matches', async () => {
    const pattern = `${p}:del:*`;
    expect(await searchKeys(page, pattern)).toEqual([SEEDED.del1.key, SEEDED.del2.key, SEEDED.del3.key]);
    await page.getByRole('button', { name: 'Delete by pattern' }).click();
    const dialog = page.getByRole('alertdialog');
    const confirm = dialog.getByRole('button', { name: 'Delete' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Confirmation').fill(`${p}:del:`);
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Confirmation').fill(pattern);
    await screenshot(page, '6-keys-delete-pattern');
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => page.getByTestId('keys-summary').textContent()).toBe(`0 keys matching ${pattern}, scan complete`);
    expect(await redis.exists(SEEDED.del1.key, SEEDED.del2.key, SEEDED.del3.key)).toBe(0);
    expect(await redis.exists(SEEDED.str.key, SEEDED.list.key, SEEDED.set.key, SEEDED.zset.key)).toBe(4);
  });

  it("Keys: delete by pattern refuses a pattern that reaches the suite's own keys; one that names them asks for their prefix", async () => {
    // `*` reaches locks (the cron guard's tick claims are on this server), sessions, ...: refused.
    await page.getByLabel('Pattern (SCAN MATCH)').fill('*');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.getByTestId('keys-summary').textContent(), { timeout: 30_000 }).toMatch(/ matching \*( so far|, scan complete)$/);
    await page.getByRole('button', { name: 'Delete by pattern' }).click();
    let dialog = page.getByRole('alertdialog');
    await dialog.getByLabel('Confirmation').fill('*');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.locator('[data-sonner-toast]', { hasText: "could match the suite's own keys" }).first().waitFor();
    expect(await redis.exists(SEEDED.str.key, SESSION.key, SESSION_DOOMED)).toBe(3);

    // A pattern that starts with the sessions' prefix: a second confirmation, with the prefix.
    const pattern = `sess:${p}:doomed*`;
    expect(await searchKeys(page, pattern)).toEqual([SESSION_DOOMED]);
    await page.getByRole('button', { name: 'Delete by pattern' }).click();
    dialog = page.getByRole('alertdialog');
    await dialog.getByLabel('Confirmation').fill(pattern);
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByTestId('confirm-protected').waitFor();
    expect(await dialog.getByTestId('confirm-protected').textContent()).toContain('sessions (sess:)');
    const confirm = dialog.getByRole('button', { name: 'Delete' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Confirmation').fill('sess:');
    await screenshot(page, '12-keys-delete-protected');
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => redis.exists(SESSION_DOOMED)).toBe(0);
    expect(await redis.exists(SESSION.key)).toBe(1);
  });

  it('Keys: "Load more" pages through the SCAN cursor until every match is listed once', async () => {
    const pattern = `${p}-many:*`;
    await page.getByLabel('Pattern (SCAN MATCH)').fill(pattern);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.getByTestId('keys-summary').textContent()).toMatch(new RegExp(` matching ${escapeRegExp(pattern)}`));
    let clicks = 0;
    const summary = page.getByTestId('keys-summary');
    while (!/scan complete$/.test((await summary.textContent()) ?? '')) {
      const before = await summary.textContent();
      await page.getByRole('button', { name: 'Load more' }).click();
      clicks++;
      await expect.poll(() => summary.textContent()).not.toBe(before);
      expect(clicks).toBeLessThan(50);
    }
    expect(clicks).toBeGreaterThanOrEqual(1);
    const listed = await page.getByTestId('key-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-key') ?? ''));
    expect(listed).toHaveLength(MANY);
    expect(new Set(listed)).toEqual(new Set(Array.from({ length: MANY }, (_, i) => `${p}-many:${i}`)));
    expect(await summary.textContent()).toBe(`${MANY} keys matching ${pattern}, scan complete`);
  });

  it("Keys: changing a key's TTL sets and removes it in Redis; a session key asks for its prefix first", async () => {
    expect(await searchKeys(page, SEEDED.str.key)).toEqual([SEEDED.str.key]);
    await page.getByRole('button', { name: `Change the TTL of ${SEEDED.str.key}` }).click();
    let dialog = page.getByRole('alertdialog');
    await dialog.getByLabel('Expire in (seconds)').fill('120');
    await dialog.getByRole('button', { name: 'Set TTL' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => redis.pttl(SEEDED.str.key)).toBeGreaterThan(110_000);
    expect(await redis.pttl(SEEDED.str.key)).toBeLessThanOrEqual(120_000);
    await expect.poll(async () => Number(await row(page, SEEDED.str.key).getByTestId('key-ttl').getAttribute('data-ttl-ms'))).toBeLessThanOrEqual(120_000);

    await page.getByRole('button', { name: `Change the TTL of ${SEEDED.str.key}` }).click();
    dialog = page.getByRole('alertdialog');
    await dialog.getByRole('button', { name: 'Remove TTL' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => redis.pttl(SEEDED.str.key)).toBe(-1);
    expect(await row(page, SEEDED.str.key).getByTestId('key-ttl').textContent()).toBe('no expiry');

    expect(await searchKeys(page, SESSION.key)).toEqual([SESSION.key]);
    await page.getByRole('button', { name: `Change the TTL of ${SESSION.key}` }).click();
    dialog = page.getByRole('alertdialog');
    await dialog.getByLabel('Expire in (seconds)').fill('7200');
    await dialog.getByRole('button', { name: 'Set TTL' }).click();
    await dialog.getByTestId('ttl-protected').waitFor();
    expect(await dialog.getByTestId('ttl-protected').textContent()).toContain('sessions (sess:)');
    expect(await redis.pttl(SESSION.key)).toBeLessThanOrEqual(3_600_000);
    const anyway = dialog.getByRole('button', { name: 'Change it anyway' });
    expect(await anyway.isDisabled()).toBe(true);
    await dialog.getByLabel('Confirmation').fill('sess:');
    await screenshot(page, '18-keys-ttl-protected');
    await anyway.click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => redis.pttl(SESSION.key)).toBeGreaterThan(3_600_000);
  });

  it('Memory: the whole keyspace ranked by size and grouped by prefix, a planted big key first', async () => {
    await redis.mset(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`${p}-mem:${i}`, `v${i}`])));
    const big = `${p}-mem:big`;
    await redis.set(big, 'x'.repeat(300_000));
    // A lock of its own (the cron guard's tick claims come and go): the locks group is there on every run.
    await redis.set(`lock:${p}-memory-view`, 'held', 'PX', 120_000);
    await openView(page, 'Memory');
    await page.getByLabel('Keys (SCAN MATCH)').fill('*');
    await page.getByRole('button', { name: 'Analyse' }).click();
    await expect.poll(() => page.getByTestId('memory-state').textContent(), { timeout: 60_000 }).toBe('complete');
    expect(await page.getByTestId('memory-key').first().getAttribute('data-key')).toBe(big);
    expect(Number(await page.getByTestId('memory-key').first().getAttribute('data-bytes'))).toBe(
      Number(await redis.call('MEMORY', 'USAGE', big, 'SAMPLES', '5')),
    );
    const scanned = Number(await page.getByTestId('memory-summary').getAttribute('data-scanned'));
    const size = await redis.dbsize();
    expect(scanned).toBeGreaterThan(size - 20); // tick claims come and go meanwhile
    expect(scanned).toBeLessThan(size + 20);
    const group = (prefix: string) => page.locator(`[data-testid="memory-group"][data-prefix="${prefix}"]`);
    expect(Number(await group('t:').getAttribute('data-keys'))).toBeGreaterThanOrEqual(2001 + MANY);
    await group('redis-suite:health:').waitFor();
    expect(await group('redis-suite:health:').textContent()).toContain('health series');
    expect(await group('sess:').textContent()).toContain('sessions');
    expect(await group('lock:').textContent()).toContain('locks');
    expect(await group(CACHE_PREFIX).textContent()).toContain('response cache');
    await screenshot(page, '17-memory');
    await openView(page, 'Keys');
  });

  it('Keys: the Cluster connection is scanned across its masters', async () => {
    await openView(page, 'Keys');
    await choose(page, 'Connection', 'cluster (cluster)');
    expect(await searchKeys(page, `${p}:*`)).toEqual([`${p}:on-cluster`]);
  });

  it('Cache: tags with their entry counts from Redis, and purge', async () => {
    // Two reads: the first fills the cache, the second is served from it.
    for (let i = 0; i < 2; i++) expect((await fetch(`${app.url}/api/articles`)).status).toBe(200);
    const tagSet = `${CACHE_PREFIX}ti:{${ARTICLE_TAG}}`;
    await expect.poll(() => redis.zcard(tagSet)).toBeGreaterThan(0);

    await openView(page, 'Cache');
    const tagRow = page.locator(`[data-testid="cache-tag"][data-tag="${ARTICLE_TAG}"]`);
    await tagRow.waitFor();
    expect(await tagRow.getByTestId('cache-entries').textContent()).toBe(String(await redis.zcard(tagSet)));
    await screenshot(page, '7-cache');

    await tagRow.getByRole('button', { name: 'Purge' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => tagRow.getByTestId('cache-entries').textContent()).toBe('0');
    expect(await redis.zcard(tagSet)).toBe(0);
  });

  it('Cron: the guarded task with its last run, instance and result', async () => {
    await openView(page, 'Cron');
    const task = page.locator(`[data-testid="cron-task"][data-task="${CRON_TASK}"]`);
    await task.waitFor();
    // The task runs every 2 s; the view refreshes every 5 s.
    await expect.poll(() => task.getByTestId('cron-result').textContent(), { timeout: 30_000 }).toBe('ok');
    expect(await task.getByTestId('cron-instance').textContent()).toBe(`${os.hostname()}:${app.pid}`);
    expect(await task.getByTestId('cron-last-run').textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    await screenshot(page, '8-cron');
  });

  it("Counters: this instance's feature counters, as the stats route reports them", async () => {
    await openView(page, 'Counters');
    const cacheHits = page.getByTestId('counters-cache').getByTestId('counter-hits');
    await cacheHits.waitFor();
    const token = await superToken();
    const stats = await api('GET', '/redis/stats', undefined, token);
    // The cache test's second read was a hit, and its purge a purge; nothing has read since.
    expect(stats.cache.hits).toBeGreaterThanOrEqual(1);
    expect(await cacheHits.textContent()).toBe(String(stats.cache.hits));
    expect(await page.getByTestId('counters-cache').getByTestId('counter-purges').textContent()).toBe(String(stats.cache.purges));
    expect(Number(await page.getByTestId('counters-cron').getByTestId('counter-runs').textContent())).toBeGreaterThanOrEqual(1);
    await screenshot(page, '9-counters');
  });

  it('Dashboard, after the other views: the sparklines hold the history of the whole run', async () => {
    await openView(page, 'Dashboard');
    const card = page.getByTestId('connection-default');
    // about one point a second since the app started
    await expect.poll(async () => Number(await card.getByTestId('spark-memory').getAttribute('data-points')), { timeout: 15_000 }).toBeGreaterThanOrEqual(30);
    await expect
      .poll(async () => Number(await page.getByTestId('connection-cluster').getByTestId('spark-ops').getAttribute('data-points')), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(20);
    await screenshot(page, '13-dashboard');
  });

  it('an admin with only "Read status" sees the views but no key browsing, deletion or purge', async () => {
    await adminWithActions(READER, 'Reader', ['plugin::redis.read']);
    const readerContext = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    readerContext.setDefaultTimeout(30_000);
    try {
      const reader = await readerContext.newPage();
      await login(reader, READER);
      await reader.getByRole('link', { name: 'Redis', exact: true }).click();
      await reader.getByTestId('connection-default').waitFor();

      await openView(reader, 'Keys');
      await reader.getByText("You don't have the permissions to access that content").waitFor();
      expect(await reader.getByTestId('key-row').count()).toBe(0);
      expect(await reader.getByRole('button', { name: 'Delete by pattern' }).count()).toBe(0);
      await screenshot(reader, '10-keys-read-only-admin');

      await openView(reader, 'Cache');
      await reader.locator(`[data-testid="cache-tag"][data-tag="${ARTICLE_TAG}"]`).waitFor();
      expect(await reader.getByRole('button', { name: 'Purge' }).count()).toBe(0);
      expect(await reader.getByRole('button', { name: 'Purge all' }).count()).toBe(0);
    } finally {
      await readerContext.close();
    }
  });

  it('an admin who may browse but not delete keys sees the keys without any delete button', async () => {
    await adminWithActions(BROWSER_ONLY, 'Browser', ['plugin::redis.read', 'plugin::redis.keys.read']);
    const browseContext = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    browseContext.setDefaultTimeout(30_000);
    try {
      const viewer = await browseContext.newPage();
      await login(viewer, BROWSER_ONLY);
      await viewer.getByRole('link', { name: 'Redis', exact: true }).click();
      await openView(viewer, 'Keys');
      expect(await searchKeys(viewer, `${p}:*`)).toContain(SEEDED.str.key);
      await viewer.getByRole('button', { name: `View ${SEEDED.str.key}` }).waitFor();
      expect(await viewer.getByRole('button', { name: `Delete ${SEEDED.str.key}` }).count()).toBe(0);
      expect(await viewer.getByRole('button', { name: `Change the TTL of ${SEEDED.str.key}` }).count()).toBe(0);
      expect(await viewer.getByRole('button', { name: 'Delete by pattern' }).count()).toBe(0);

      // A session key is listed, but without "Read session values" its value is withheld, with why.
      expect(await searchKeys(viewer, `sess:${p}:*`)).toEqual([SESSION.key]);
      await viewer.getByRole('button', { name: `View ${SESSION.key}` }).click();
      const dialog = viewer.getByRole('dialog');
      await dialog.getByTestId('value-withheld').waitFor();
      expect(await dialog.getByTestId('value-withheld').textContent()).toContain('Read session values');
      expect(await dialog.getByTestId('key-value').count()).toBe(0);
      expect(await viewer.content()).not.toContain(SESSION_SECRET);
      await screenshot(viewer, '11-keys-session-withheld');
    } finally {
      await browseContext.close();
    }
  });

  it('an admin without "Read status" has no Redis menu entry, and the page refuses a direct visit', async () => {
    await adminWithActions(NO_REDIS, 'Outsider', []);
    const outsiderContext = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-US' });
    outsiderContext.setDefaultTimeout(30_000);
    try {
      const outsider = await outsiderContext.newPage();
      await login(outsider, NO_REDIS);
      await outsider.getByRole('link', { name: 'Home', exact: true }).waitFor();
      expect(await outsider.getByRole('link', { name: 'Redis', exact: true }).count()).toBe(0);
      await outsider.goto(`${app.url}/admin/plugins/redis/connections`);
      await outsider.getByText("You don't have the permissions to access that content").waitFor();
      expect(await outsider.getByTestId('connection-default').count()).toBe(0);
    } finally {
      await outsiderContext.close();
    }
  });

  it('the browser saw no page errors from the plugin', () => {
    const ours = consoleErrors.filter((text) => /redis/i.test(text) && !/Failed to load resource/.test(text));
    expect(ours).toEqual([]);
  });
});
