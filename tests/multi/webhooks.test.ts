/**
 * Webhooks live on every instance (settings.webhookSync): two real Strapi 5.54 instances share one
 * real PostgreSQL database and one Redis server of this file's own; a webhook changed through one
 * instance's admin API fires (or stops firing) on writes served by the other. A local HTTP server
 * receives the webhooks.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../harness/postgres.js';
import { startStandalone, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from '../e2e/app.js';

interface Hook {
  path: string;
  event: string;
  title: string | undefined;
  at: number;
}

let pg: PostgresHandle;
let redisServer: ServerHandle;
let receiver: http.Server;
let receiverUrl: string;
const hooks: Hook[] = [];
let a: AppHandle;
let b: AppHandle;
let token: string;

beforeAll(async () => {
  [pg, redisServer] = await Promise.all([startPostgres(), startStandalone(), ensurePlaygroundInstalled({ quiet: true })]);
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      let parsed: { event?: string; entry?: { title?: string } } = {};
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        // not JSON
      }
      hooks.push({ path: req.url ?? '', event: parsed.event ?? String(req.headers['x-strapi-event']), title: parsed.entry?.title, at: Date.now() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const db = await pg.createDatabase('webhooks');
  const opts = {
    pluginConfig: { connections: { default: { connection: redisServer.url } } },
    databaseUrl: pg.url(db),
    // Strapi refuses webhook URLs on local addresses when NODE_ENV is production.
    env: { NODE_ENV: 'development' },
  };
  [a, b] = await Promise.all([startApp(opts), startApp(opts)]);
  const admin = await api(
    a,
    'POST',
    '/admin/register-admin',
    { firstname: 'Hook', lastname: 'E2e', email: 'hooks@example.com', password: 'Passw0rd-hooks!' },
    false,
  );
  expect(admin.status, JSON.stringify(admin.body)).toBe(200);
  token = admin.body.data.token;
  // The first content-manager write of a fresh process is slow (lazy loading): not what is measured.
  await Promise.all([write(a, 'warm-up-a'), write(b, 'warm-up-b')]);
}, 240_000);

afterAll(async () => {
  await Promise.all([a, b].map((x) => (x?.isRunning() ? x.stop() : undefined)));
  await new Promise((r) => receiver?.close(r));
  await redisServer?.stop();
  await pg?.stop();
});

async function api(app: AppHandle, method: string, path: string, body?: object, auth = true): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/** Create an article through `app`'s admin (content manager): Strapi emits `entry.create`. */
async function write(app: AppHandle, title: string): Promise<number> {
  const at = Date.now();
  const res = await api(app, 'POST', '/content-manager/collection-types/api::article.article', { title });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return at;
}

const hookFor = (path: string, title: string) => hooks.find((h) => h.path === path && h.title === title);

async function createWebhook(
  app: AppHandle,
  name: string,
  path: string,
): Promise<{ id: string; name: string; url: string; headers: object; events: string[] }> {
  const res = await api(app, 'POST', '/admin/webhooks', { name, url: `${receiverUrl}${path}`, headers: {}, events: ['entry.create'] });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

/**
 * Wait until `app` logged that it applied the announcement of webhook `id` (`op`: added, updated,
 * removed), at most one second after `since`; returns how long it took.
 */
async function applied(app: AppHandle, id: string, op: 'added' | 'updated' | 'removed', since: number, nth = 1): Promise<number> {
  const line = new RegExp(`webhook sync: webhook ${id} ${op} \\(announced by `, 'g');
  await waitFor(() => (app.logs().match(line)?.length ?? 0) >= nth, 1000, `the other instance to apply webhook ${id} ${op} within one second`);
  return Date.now() - since;
}

/** `title` reached `present` and, by the time it did, nothing reached `absent` (plus a short bound). */
async function expectOnly(present: string, absent: string, title: string): Promise<void> {
  await waitFor(() => hookFor(present, title) !== undefined, 5000, `${present} for "${title}"`);
  // The runner calls a write's webhooks one after the other: a webhook still active here would be
  // called right after the one that arrived. Give it a short bound to show up.
  await new Promise((r) => setTimeout(r, 500));
  expect(hookFor(absent, title)).toBeUndefined();
}

describe('webhooks live on every instance', () => {
  let main: { id: string; name: string; url: string; headers: object; events: string[] };

  it('a webhook created through A is live on B within one second: a write through B fires it, within one second', async () => {
    const created = Date.now();
    main = await createWebhook(a, 'main', '/main');
    const propagation = await applied(b, main.id, 'added', created);
    const at = await write(b, 'b-1');
    await waitFor(() => hookFor('/main', 'b-1') !== undefined, 1000, 'the webhook created on A to fire for a write on B within one second');
    console.log(
      `[webhooks] created on A: live on B ${propagation} ms after the create request started; a write on B delivered ${hookFor('/main', 'b-1')!.at - at} ms after it started`,
    );
  });

  it('disabled through B, it no longer fires on a write through A (a webhook created through B does)', async () => {
    let since = Date.now();
    const sentinel = await createWebhook(b, 'sentinel', '/sentinel');
    await applied(a, sentinel.id, 'added', since);
    since = Date.now();
    const res = await api(b, 'PUT', `/admin/webhooks/${main.id}`, {
      name: main.name,
      url: main.url,
      headers: main.headers,
      events: main.events,
      isEnabled: false,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await applied(a, main.id, 'updated', since);
    await write(a, 'a-2');
    await expectOnly('/sentinel', '/main', 'a-2');
  });

  it('enabled again and the other deleted through A: B fires the first and not the deleted one', async () => {
    let since = Date.now();
    const res = await api(a, 'PUT', `/admin/webhooks/${main.id}`, {
      name: main.name,
      url: main.url,
      headers: main.headers,
      events: main.events,
      isEnabled: true,
    });
    expect(res.status).toBe(200);
    await applied(b, main.id, 'updated', since);
    const list = await api(a, 'GET', '/admin/webhooks');
    const sentinel = (list.body.data as Array<{ id: string; name: string }>).find((w) => w.name === 'sentinel')!;
    since = Date.now();
    expect((await api(a, 'DELETE', `/admin/webhooks/${sentinel.id}`)).status).toBe(200);
    await applied(b, sentinel.id, 'removed', since);
    await write(b, 'b-3');
    await expectOnly('/main', '/sentinel', 'b-3');
  });

  it('a change made while Redis is down reaches the other instance once its subscriber is back (reload from the database)', async () => {
    await redisServer.kill('SIGKILL');
    // The admin write succeeds during the outage; only the announcement is lost.
    const started = Date.now();
    await createWebhook(a, 'during-outage', '/outage');
    const createMs = Date.now() - started;
    await redisServer.restart();
    await waitFor(
      () => /webhook sync: reloaded \d+ webhook\(s\) from the database \(the subscriber reconnected\)/.test(b.logs()),
      30_000,
      "B's subscriber to reconnect and reload",
    );
    const at = await write(b, 'b-4');
    await waitFor(() => hookFor('/outage', 'b-4') !== undefined, 5000, 'the webhook created during the outage to fire on B');
    console.log(
      `[webhooks] created on A during the outage in ${createMs} ms; after the reconnect, delivered ${hookFor('/outage', 'b-4')!.at - at} ms after a write on B`,
    );
    expect(b.logs()).toMatch(/connection "default" \([^)]*\) is down/);
    expect(a.logs()).toMatch(/webhook sync: could not announce a webhook change on connection "default"/);
  }, 90_000);
});
