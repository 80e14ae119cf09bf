/**
 * Issue 13 item 12, as a user meets it: a plain playground Strapi app with every request-path
 * feature on and the default config (the rate limiter, sessions, the response cache and the Apollo
 * cache, one `default` connection with no `requestTimeout`), loaded by many concurrent clients,
 * and the Redis server it uses SIGKILLed (a server this file starts: never the shared one).
 *
 * Every request must be answered, and no request may wait more than 250 ms beyond its handler:
 * the server reports the time it spent on each request (`X-Request-Ms`, from a first global
 * middleware) and the time its handler took (`X-Handler-Ms`: the route's controller, or for
 * GraphQL the operation's execution), so the difference is the time spent in everything else,
 * the suite's middlewares and their Redis commands among it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type ServerHandle } from '../harness/servers.js';
import { waitFor } from '../helpers/logger.js';
import { ensurePlaygroundInstalled, startApp, type AppHandle } from './app.js';

/** The bound the issue asks for: no request waits longer than this beyond its handler. */
const BOUND_MS = 250;
/**
 * Allowance for a loaded, shared 2-core machine (this runner, Strapi and Redis on it, other test
 * runs beside): Strapi's own middlewares (logger, security, body, routing, auth) and event-loop
 * delays while the clients keep it busy cost time that has nothing to do with Redis failing. The
 * allowance is the worst time beyond the handler measured in the same run while Redis was up
 * (the steady load before the kill), and at least MIN_MARGIN_MS. So the test says: the kill made
 * no request wait more than BOUND_MS longer than the same load cost with Redis up.
 */
const MIN_MARGIN_MS = 150;
const CLIENTS_PER_KIND = 4;
/** How long the warmed-up load runs before the kill. */
const STEADY_MS = 1500;
/** How long the load goes on after the kill. */
const AFTER_KILL_MS = 2500;

const GRAPHQL_CONFIG = `'use strict';
const { createRequire } = require('node:module');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const appRequire = createRequire(path.join(process.cwd(), 'package.json'));
const { createApolloCache } = appRequire('strapi-plugin-redis-suite');
const { ApolloServerPluginCacheControl } = appRequire('@apollo/server/plugin/cacheControl');
const responseCachePlugin = appRequire('@apollo/server-plugin-response-cache').default;

// The operation's execution is the GraphQL request's handler: timed into X-Handler-Ms.
const handlerTimer = {
  async requestDidStart() {
    let ms = 0;
    return {
      async executionDidStart() {
        const start = performance.now();
        return { executionDidEnd() { ms = performance.now() - start; } };
      },
      async willSendResponse({ response }) {
        response.http.headers.set('x-handler-ms', ms.toFixed(1));
      },
    };
  },
};

module.exports = {
  apolloServer: {
    cache: createApolloCache({ connection: 'default' }),
    plugins: [ApolloServerPluginCacheControl({ defaultMaxAge: 60 }), responseCachePlugin(), handlerTimer],
  },
};
`;

// Defaults everywhere but the rate limiter's max (its default, 5 a minute, would answer this
// load with 429s; every request of this test comes from 127.0.0.1, one bucket).
const MIDDLEWARES = `'use strict';
module.exports = (defaults) => [
  'global::request-timer',
  ...defaults.map((m) => (m === 'strapi::session' ? { name: 'plugin::redis.session', config: { secure: false } } : m)),
  { name: 'plugin::redis.rateLimit', config: { max: 1000000 } },
  { name: 'plugin::redis.cache', config: { routes: ['/api/outage-probe/cached'] } },
];
`;

type Kind = 'session' | 'cache' | 'graphql';

interface Sample {
  kind: Kind;
  client: number;
  start: number;
  end: number;
  status: number;
  /** Server time on the request, ms (X-Request-Ms). */
  requestMs: number;
  /** The handler's own time, ms (X-Handler-Ms; 0 when it did not run). */
  handlerMs: number;
  body: string;
}

interface Failure {
  kind: Kind;
  client: number;
  start: number;
  error: string;
}

let server: ServerHandle;
let app: AppHandle;
let dir: string;

beforeAll(async () => {
  await ensurePlaygroundInstalled({ quiet: true });
  server = await startStandalone();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-suite-e2e-outage-'));
  const graphqlConfig = path.join(dir, 'graphql-config.js');
  fs.writeFileSync(graphqlConfig, GRAPHQL_CONFIG);
  app = await startApp({
    pluginConfig: { connections: { default: { connection: server.url } } },
    middlewares: MIDDLEWARES,
    env: { PLAYGROUND_OUTAGE_PROBE: '1', GRAPHQL_PLUGIN_CONFIG: graphqlConfig, DATABASE_FILENAME: path.join(dir, 'data.db') },
  });
}, 180_000);

afterAll(async () => {
  await app?.stop();
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const QUERY = 'query OutageProbe($t: String) { articles(filters: { title: { ne: $t } }) { title } }';

describe('Redis SIGKILLed under load, every request-path feature on, default config', () => {
  it(`answers every request, none waiting more than ${BOUND_MS} ms beyond its handler`, async () => {
    const run = randomBytes(4).toString('hex');
    const samples: Sample[] = [];
    const failures: Failure[] = [];
    let stopped = false;

    const request = async (kind: Kind, client: number, n: number, cookie: string | undefined): Promise<string | undefined> => {
      const start = performance.now();
      try {
        let res: Response;
        if (kind === 'graphql') {
          res = await fetch(`${app.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: QUERY, variables: { t: `${run}-${client}-${n}` } }),
          });
        } else {
          const url = kind === 'session' ? `${app.url}/api/outage-probe/session` : `${app.url}/api/outage-probe/cached?n=${run}-${client}-${n}`;
          res = await fetch(url, { headers: cookie ? { cookie } : {} });
        }
        const body = await res.text();
        samples.push({
          kind,
          client,
          start,
          end: performance.now(),
          status: res.status,
          requestMs: Number(res.headers.get('x-request-ms') ?? NaN),
          handlerMs: Number(res.headers.get('x-handler-ms') ?? 0),
          body: body.slice(0, 300),
        });
        const setCookie = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
        return setCookie.length > 0 ? setCookie.join('; ') : cookie;
      } catch (err) {
        failures.push({ kind, client, start, error: String((err as Error).cause ?? err) });
        return cookie;
      }
    };

    const loop = async (kind: Kind, client: number): Promise<void> => {
      let cookie: string | undefined;
      for (let n = 0; !stopped; n++) cookie = await request(kind, client, n, cookie);
    };

    const kinds: Kind[] = ['session', 'cache', 'graphql'];
    const loops = kinds.flatMap((kind) => Array.from({ length: CLIENTS_PER_KIND }, (_, i) => loop(kind, i)));
    let killAt = 0;
    let measureFrom = 0;
    try {
      // Warm: every kind answered with Redis up (sessions saved, entries cached, Apollo writes).
      await waitFor(
        () => kinds.every((k) => samples.filter((sample) => sample.kind === k && sample.status === 200).length >= 30),
        60_000,
        '30 answers of each kind before the kill',
      );
      // Measured from here: the first requests of a fresh Strapi (cold code paths, first GraphQL
      // schema use, first script loads) are slow for reasons that have nothing to do with Redis.
      measureFrom = performance.now();
      const steady = measureFrom + STEADY_MS;
      await waitFor(() => performance.now() > steady, STEADY_MS + 5000, 'steady load before the kill');
      killAt = performance.now();
      await server.kill('SIGKILL');
      const deadline = performance.now() + AFTER_KILL_MS;
      await waitFor(() => performance.now() > deadline, AFTER_KILL_MS + 5000, 'load after the kill');
    } finally {
      stopped = true;
      await Promise.all(loops);
    }

    // Every request answered.
    expect(failures, JSON.stringify(failures.slice(0, 5))).toEqual([]);
    // The fail-open features answer 200 throughout; sessions fail closed (503) while Redis is gone.
    for (const sample of samples) {
      if (sample.kind === 'session') expect([200, 503], sample.body).toContain(sample.status);
      else expect(sample.status, sample.body).toBe(200);
      if (sample.kind === 'graphql') expect(JSON.parse(sample.body).errors, sample.body).toBeUndefined();
      expect(Number.isFinite(sample.requestMs), 'X-Request-Ms on every answer').toBe(true);
    }
    const after = samples.filter((sample) => sample.start >= killAt);
    expect(after.filter((sample) => sample.kind === 'session' && sample.status === 503).length, 'sessions fail closed after the kill').toBeGreaterThan(0);

    const overhead = (sample: Sample): number => sample.requestMs - sample.handlerMs;
    const measured = samples.filter((sample) => sample.start >= measureFrom);
    const inFlight = measured.filter((sample) => sample.start < killAt && sample.end > killAt);
    const before = measured.filter((sample) => sample.end <= killAt);
    const worst = (list: Sample[]): Sample | undefined =>
      list.reduce<Sample | undefined>((w, sample) => (!w || overhead(sample) > overhead(w) ? sample : w), undefined);
    const show = (sample: Sample | undefined): string =>
      sample
        ? `${Math.round(overhead(sample))} ms (${sample.kind}, status ${sample.status}, server ${sample.requestMs} ms, handler ${sample.handlerMs} ms)`
        : '-';
    const perKind = kinds
      .map(
        (k) =>
          `${k}: ${inFlight.filter((sample) => sample.kind === k).length} in flight, worst ${show(worst([...inFlight, ...after].filter((sample) => sample.kind === k)))}`,
      )
      .join('; ');
    console.log(
      `[fault-figure] Strapi e2e, Redis SIGKILL under load (${kinds.length * CLIENTS_PER_KIND} clients, default requestTimeout): ` +
        `${samples.length} answers (${samples.length - measured.length} warming up, then ${before.length} before the kill, ${inFlight.length} in flight at it, ${after.length} after); ` +
        `time beyond the handler, worst before the kill ${show(worst(before))}, worst from the kill on ${show(worst([...inFlight, ...after]))}; ${perKind}`,
    );
    expect(before.length, 'answers with Redis up, after the warm-up').toBeGreaterThanOrEqual(10);
    // The kill found requests of every kind in flight (otherwise this would test nothing).
    for (const k of kinds) expect(inFlight.filter((sample) => sample.kind === k).length, `${k} requests in flight at the kill`).toBeGreaterThan(0);
    const margin = Math.max(MIN_MARGIN_MS, Math.ceil(Math.max(...before.map(overhead))));
    const slow = measured.filter((sample) => overhead(sample) > BOUND_MS + margin);
    expect(slow.length, `requests that waited more than ${BOUND_MS} + ${margin} ms (the margin) beyond their handler: ${slow.map(show).join('; ')}`).toBe(0);
  }, 120_000);
});
