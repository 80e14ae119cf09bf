// Scenario "cache-strapi": the response cache in real Strapi 5.54 (the playground app) on a
// route that populates related entries, against the same app uncached and against
// @strapi-community/plugin-rest-cache 5.0.x with its Redis provider (bench/peer-app: same
// content types, config and seed data, its own node_modules). Every app has its own sqlite file
// seeded with the same rows through POST /api/bench-seed; every cache uses the run's redis-server.
//
// Processes: uncached (playground, no cache middleware), ours (playground + plugin::redis.cache,
// ETag on), ours-noetag (etag: false), peer (peer-app, ETag off) and peer-etag (peer-app, ETag on);
// issue #16: ours-expiry and ours-swr (maxAge EXPIRY_MS, so the load crosses an expiry every
// EXPIRY_MS; coalescing on; SWR off vs on), ours-origin-down (staleIfError, the find controller
// made to throw through the cache probe); issue #20: ceiling and ceiling-etag (the same route
// answered from process memory by cache-ceiling-middleware.cjs in the cache's place: the most a hit
// could be). One is loaded at a time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compare } from '../lib/runner.mjs';
import { startStrapi, tempAppDir } from '../lib/strapi.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PEER_DIR = path.join(ROOT, 'bench', 'peer-app');
const PLAYGROUND = path.join(ROOT, 'playground');

// 20 articles, each with its author and 3 tags (about 30 KB of JSON).
const ROUTE = '/api/articles?populate[0]=author&populate[1]=tags';
const PEER_GOAL = 1.2;
// issue #16: the hot route expires every EXPIRY_MS under load; SWR's p99 goal against a plain hit's
const EXPIRY_MS = 1_000;
const SWR_GOAL = 1.2;
// issue #20: our hit against the in-memory ceiling, ETag on and off
const CEILING_GOAL = 0.9;
const CEILING_MIDDLEWARE = path.join(ROOT, 'bench', 'scenarios', 'cache-ceiling-middleware.cjs');
const ceilingMiddlewares = (etag) =>
  `module.exports = (defaults) => [...defaults, { resolve: ${JSON.stringify(CEILING_MIDDLEWARE)}, config: { etag: ${etag} } }];\n`;

export const title = 'Response cache in Strapi: populated REST route, uncached vs ours vs plugin-rest-cache (Redis)';
export const target = `issue #6: ours' speedup over \`uncached\` in requests/s >= ${PEER_GOAL}x the speedup of plugin-rest-cache 5.0.x (Redis provider) in the same run, ETag off (\`ours-noetag\` vs \`peer\`) and ETag on (\`ours\` vs \`peer-etag\`) (the same goal per CPU-second is in the note below)`;
// Strapi under load is noisier than the bare-Koa scenarios: more, shorter interleaved rounds.
const settings = (opts) => (opts.rounds === 1 ? opts : { ...opts, rounds: 5, durationS: 3 });

export const method = (input) => {
  const opts = settings(input);
  return (
    "Strapi 5.54 `NODE_ENV=production`, sqlite, one process per app (uncached, ours ETag on, ours ETag off, peer ETag off, peer ETag on), all on the run's redis-server; " +
    `route \`GET ${ROUTE}\` (20 articles, each with its author and 3 tags, 30 KB); autocannon ${opts.connections} connections, ` +
    `${opts.durationS} s x ${opts.rounds} interleaved rounds (median), in its own process.`
  );
};

const peerVersions = () => {
  const v = (name) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(PEER_DIR, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')).version;
    } catch {
      return undefined;
    }
  };
  return {
    restCache: v('@strapi-community/plugin-rest-cache'),
    provider: v('@strapi-community/provider-rest-cache-redis'),
    redisV2: v('@strapi-community/plugin-redis'),
    strapi: v('@strapi/strapi'),
  };
};

/** The playground app with the packed plugin (scripts/playground.mjs), plus a cache middleware list. */
async function ourApp(label, middlewares) {
  const playground = await import(path.join(ROOT, 'scripts', 'playground.mjs'));
  await playground.install({ log: (line) => console.error(`[playground] ${line}`) });
  const dir = tempAppDir(label);
  playground.createAppDir(dir);
  const env = { PLAYGROUND_BENCH_SEED: '1' };
  if (middlewares) {
    fs.writeFileSync(path.join(dir, 'middlewares-config.js'), middlewares);
    env.MIDDLEWARES_CONFIG = path.join(dir, 'middlewares-config.js');
  }
  return { dir, env };
}

/** The peer app folder: the playground's config and src, the peer's plugins config, its own node_modules. */
function peerApp(label) {
  if (!fs.existsSync(path.join(PEER_DIR, 'node_modules', '@strapi-community', 'plugin-rest-cache'))) {
    console.error('[cache-strapi] installing bench/peer-app (npm ci, once)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEER_DIR, stdio: 'inherit' });
  }
  const dir = tempAppDir(label);
  for (const entry of ['config', 'src', 'public', 'favicon.png']) fs.cpSync(path.join(PLAYGROUND, entry), path.join(dir, entry), { recursive: true });
  fs.cpSync(path.join(PEER_DIR, 'config'), path.join(dir, 'config'), { recursive: true });
  fs.copyFileSync(path.join(PEER_DIR, 'server.js'), path.join(dir, 'server.js'));
  fs.copyFileSync(path.join(PEER_DIR, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(PEER_DIR, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return { dir, env: { PLAYGROUND_BENCH_SEED: '1' } };
}

/** The article find controller's runs on an app with the cache probe on (PLAYGROUND_CACHE_PROBE). */
async function findCalls(app) {
  return (await (await fetch(`${app.url}/api/cache-probe/find-calls`)).json()).calls;
}

async function seed(app) {
  const res = await fetch(`${app.url}/api/bench-seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const body = await res.json();
  if (res.status !== 200 || body.articles !== 20) throw new Error(`${app.label}: seeding failed: ${res.status} ${JSON.stringify(body)}`);
}

/** Fetch the route until it answers with `want` in X-Cache (or give up); returns the last response. */
async function warm(app, want, headers = {}) {
  let res;
  for (let i = 0; i < 20; i++) {
    res = await fetch(app.url + ROUTE, { headers });
    const bytes = (await res.arrayBuffer()).byteLength;
    if (res.status !== 200 || bytes < 20_000) throw new Error(`${app.label}: ${ROUTE} answered ${res.status} with ${bytes} bytes`);
    if (!want || res.headers.get('x-cache') === want) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${app.label}: ${ROUTE} never answered X-Cache: ${want} (last: ${res.headers.get('x-cache')})`);
}

/** Commands of ours that failed or timed out, from its outage log lines (one warning per episode, one info line with the count). */
function oursFailures(logs) {
  const episodes = (logs.match(/response cache \(connection[^\n]*Redis failed/g) ?? []).length;
  const failed = [...logs.matchAll(/response cache \(connection[^\n]*\((\d+) failed command/g)].reduce((n, m) => n + Number(m[1]), 0);
  return { episodes, failed };
}

export async function measure({ redisUrl, redisPid, opts: input }) {
  const opts = settings(input);
  const env = { REDIS_URL: redisUrl };
  const oursMiddlewares = (extra = {}) =>
    `module.exports = (defaults) => [...defaults, { name: 'plugin::redis.cache', config: ${JSON.stringify({
      connection: 'default',
      prefix: 'bench:strapi:',
      maxAge: 600_000,
      contentTypes: ['api::article.article'],
      ...extra,
    })} }];\n`;
  const apps = [];
  try {
    const specs = [
      ['uncached', await ourApp('uncached')],
      ['ours', await ourApp('ours', oursMiddlewares())],
      ['ours-noetag', await ourApp('ours-noetag', oursMiddlewares({ etag: false, prefix: 'bench:strapi-noetag:' }))],
      ['peer', peerApp('peer')],
      ['peer-etag', { ...peerApp('peer-etag'), extra: { PEER_ETAG: 'true', PEER_PREFIX: 'bench-peer-etag' } }],
      // issue #16 (the probe's routes count find calls and make find throw)
      [
        'ours-expiry',
        {
          ...(await ourApp('ours-expiry', oursMiddlewares({ prefix: 'bench:strapi-expiry:', maxAge: EXPIRY_MS, coalesce: true }))),
          extra: { PLAYGROUND_CACHE_PROBE: 'bench:probe-expiry:' },
        },
      ],
      [
        'ours-swr',
        {
          ...(await ourApp('ours-swr', oursMiddlewares({ prefix: 'bench:strapi-swr:', maxAge: EXPIRY_MS, staleWhileRevalidate: 60_000, coalesce: true }))),
          extra: { PLAYGROUND_CACHE_PROBE: 'bench:probe-swr:' },
        },
      ],
      [
        'ours-origin-down',
        {
          ...(await ourApp('ours-origin-down', oursMiddlewares({ prefix: 'bench:strapi-sie:', maxAge: EXPIRY_MS, staleIfError: 3_600_000 }))),
          extra: { PLAYGROUND_CACHE_PROBE: 'bench:probe-sie:' },
        },
      ],
      ['ceiling', await ourApp('ceiling', ceilingMiddlewares(false))],
      ['ceiling-etag', await ourApp('ceiling-etag', ceilingMiddlewares(true))],
    ];
    // one boot at a time (2 cores)
    const byName = {};
    for (const [name, spec] of specs) {
      const app = await startStrapi(spec.dir, { ...env, ...spec.env, ...spec.extra }, { label: name });
      apps.push(app);
      byName[name] = app;
      await seed(app);
    }
    const { uncached, ours, peer } = byName;
    const peerEtag = byName['peer-etag'];
    const oursNoEtag = byName['ours-noetag'];
    const noEtagHit = await warm(oursNoEtag, 'HIT');
    if (noEtagHit.headers.get('etag')) throw new Error('ours-noetag: a hit with an ETag (etag: false did not take)');
    await warm(uncached);
    const oursHit = await warm(ours, 'HIT');
    const etag = oursHit.headers.get('etag');
    if (!etag) throw new Error('ours: a hit without ETag');
    await warm(peer, 'HIT');
    const peerEtagHit = await warm(peerEtag, 'HIT');
    const peerTag = peerEtagHit.headers.get('etag');
    if (!peerTag) throw new Error('peer-etag: a hit without ETag (enableEtag did not take)');
    // a 304 from each, once, before the load
    for (const [app, tag] of [
      [ours, etag],
      [peerEtag, peerTag],
    ]) {
      const r = await fetch(app.url + ROUTE, { headers: { 'if-none-match': tag } });
      if (r.status !== 304) throw new Error(`${app.label}: If-None-Match answered ${r.status}, not 304`);
    }
    const oursExpiry = byName['ours-expiry'];
    const oursSwr = byName['ours-swr'];
    const oursDown = byName['ours-origin-down'];
    for (const app of [oursExpiry, oursSwr, oursDown]) await warm(app, 'HIT');
    const ceiling = byName.ceiling;
    const ceilingEtag = byName['ceiling-etag'];
    for (const app of [ceiling, ceilingEtag]) await warm(app);
    if (!(await warm(ceilingEtag)).headers.get('etag')) throw new Error('ceiling-etag: no ETag');
    // the origin fails from now on: past maxAge every request runs find, which throws, and gets the stored body
    await fetch(`${oursDown.url}/api/cache-probe/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ offset: 0, failFind: true }),
    });
    await new Promise((r) => setTimeout(r, EXPIRY_MS + 50));
    const down = await fetch(oursDown.url + ROUTE);
    await down.arrayBuffer();
    if (down.status !== 200 || down.headers.get('x-cache') !== 'STALE-IF-ERROR')
      throw new Error(`ours-origin-down: answered ${down.status} X-Cache: ${down.headers.get('x-cache')}, not 200 STALE-IF-ERROR`);
    const callsBefore = { expiry: await findCalls(oursExpiry), swr: await findCalls(oursSwr) };
    const loadStarted = Date.now();
    const distinct = ROUTE; // with `distinct: true`: `&bench=<n>` appended, new on every request
    // CPU per request is counted over the app's process and the redis-server every app uses.
    const cpu = (app) => (redisPid ? [app.pid, redisPid] : [app.pid]);
    // The ceiling rows sit next to ours, so the two are measured one right after the other in each round.
    const variants = [
      {
        name: 'uncached',
        url: uncached.url,
        path: ROUTE,
        what: 'the playground app, no cache: Strapi checks the public permissions and runs the controller (sqlite: the page, its count, the authors and tags)',
      },
      { name: 'ours', url: ours.url, path: ROUTE, what: '`plugin::redis.cache` (ETag on, the default), warmed: one GET per request', baseline: 'uncached' },
      { name: 'ours-noetag', url: oursNoEtag.url, path: ROUTE, what: 'ours with `etag: false`, warmed: one GET per request, no ETag', baseline: 'uncached' },
      {
        name: 'ceiling',
        url: ceiling.url,
        path: ROUTE,
        what: "the ceiling: the same bytes from process memory, in the cache middleware's place (no Redis), no ETag",
        baseline: 'uncached',
      },
      {
        name: 'ceiling-etag',
        url: ceilingEtag.url,
        path: ROUTE,
        what: 'the ceiling with the stored ETag sent',
        baseline: 'uncached',
      },
      {
        name: 'ours-304',
        url: ours.url,
        path: ROUTE,
        headers: { 'if-none-match': etag },
        status: 304,
        what: 'ours, `If-None-Match` matching: 304, no body',
        baseline: 'uncached',
      },
      {
        name: 'ours-distinct',
        url: ours.url,
        path: distinct,
        distinct: true,
        what: 'ours, a new query string per request: miss (GET + generation GET), controller, SET + tag script, generation GET',
        baseline: 'uncached',
      },
      {
        name: 'peer-uncached',
        url: peer.url,
        path: ROUTE,
        headers: { 'x-bench-uncached': '1' },
        what: 'the peer app, hitpass (not looked up, not stored): how the two apps compare uncached',
        baseline: 'uncached',
      },
      {
        name: 'peer',
        url: peer.url,
        path: ROUTE,
        what: 'plugin-rest-cache, Redis provider, `enableEtag: false`, warmed (one GET through cache-manager + Keyv)',
        baseline: 'uncached',
      },
      {
        name: 'peer-etag',
        url: peerEtag.url,
        path: ROUTE,
        what: 'plugin-rest-cache, `enableEtag: true`, warmed, no `If-None-Match` (two GETs: the ETag, then the body)',
        baseline: 'uncached',
      },
      {
        name: 'peer-304',
        url: peerEtag.url,
        path: ROUTE,
        headers: { 'if-none-match': peerTag },
        status: 304,
        what: 'plugin-rest-cache, `enableEtag: true`, `If-None-Match` matching: 304',
        baseline: 'uncached',
      },
      {
        name: 'peer-distinct',
        url: peer.url,
        path: distinct,
        distinct: true,
        what: 'plugin-rest-cache, a new query string per request: miss, controller, SET (not awaited)',
        baseline: 'uncached',
      },
      {
        name: 'ours-expiry',
        url: oursExpiry.url,
        path: ROUTE,
        what: `ours, \`maxAge\` ${EXPIRY_MS} ms, coalescing, SWR off: every expiry under load is a coalesced miss (requests wait for the fill)`,
        baseline: 'ours',
      },
      {
        name: 'ours-swr',
        url: oursSwr.url,
        path: ROUTE,
        what: `ours, \`maxAge\` ${EXPIRY_MS} ms, \`staleWhileRevalidate\` 60 s: at expiry requests get the stale body (STALE) while one background refresh runs`,
        baseline: 'ours',
      },
      {
        name: 'ours-origin-down',
        url: oursDown.url,
        path: ROUTE,
        // the entry warm() stored: fetch sends Accept-Language: *, and accept-language is a default
        // key header (autocannon sends none, which is another entry, one that was never stored)
        headers: { 'accept-language': '*' },
        what: `ours, \`staleIfError\` 1 h, the find controller throwing: every request past \`maxAge\` runs it and gets the stored body (STALE-IF-ERROR)`,
        baseline: 'ours',
      },
    ];
    const appOf = {
      ceiling,
      'ceiling-etag': ceilingEtag,
      uncached,
      ours,
      'ours-noetag': oursNoEtag,
      'ours-304': ours,
      'ours-distinct': ours,
      'peer-uncached': peer,
      peer,
      'peer-etag': peerEtag,
      'peer-304': peerEtag,
      'peer-distinct': peer,
      'ours-expiry': oursExpiry,
      'ours-swr': oursSwr,
      'ours-origin-down': oursDown,
    };
    const rows = await compare(
      '',
      variants.map((v) => ({ ...v, cpuPids: cpu(appOf[v.name]) })),
      opts,
    );
    const ratio = (name) => rows.find((r) => r.name === name).ratio;
    const cpuRatio = (name) => rows.find((r) => r.name === name).cpuRatio;
    // Ours relative to the peer, per path (same samples).
    for (const [mine, theirs] of [
      ['ours', 'peer-etag'],
      ['ours-noetag', 'peer'],
      ['ours-304', 'peer-304'],
      ['ours-distinct', 'peer-distinct'],
      ['ours-noetag', 'ceiling'],
      ['ours', 'ceiling-etag'],
    ]) {
      const a = rows.find((r) => r.name === mine);
      rows.push({
        ...a,
        name: `${mine}÷${theirs}`,
        what: `\`${mine}\` speedup relative to \`${theirs}\`'s (same samples)`,
        ratio: ratio(mine) / ratio(theirs),
        cpuRatio: cpuRatio(mine) / cpuRatio(theirs),
        baselineOf: theirs,
      });
    }
    // issue #16: controller runs per expiry over the whole run (the app is loaded only in its own slots, its entry expires all along)
    const expiries = (Date.now() - loadStarted) / EXPIRY_MS;
    const perExpiry = {
      expiry: ((await findCalls(oursExpiry)) - callsBefore.expiry) / expiries,
      swr: ((await findCalls(oursSwr)) - callsBefore.swr) / expiries,
    };
    const p99 = (name) => rows.find((r) => r.name === name).p99;
    const swrP99 = p99('ours-swr') / p99('ours');
    const v = peerVersions();
    console.log(
      `peer: @strapi-community/plugin-rest-cache ${v.restCache}, provider-rest-cache-redis ${v.provider}, plugin-redis ${v.redisV2}, @strapi/strapi ${v.strapi}`,
    );
    // Cache state after the run: every app still answered from its cache (no silent fail-open).
    const after = await fetch(ours.url + ROUTE);
    if (after.headers.get('x-cache') !== 'HIT') console.warn(`[cache-strapi] ours answered X-Cache: ${after.headers.get('x-cache')} after the run`);
    await new Promise((r) => setTimeout(r, 200)); // the "answers again" line follows the next command
    const f = oursFailures(ours.logs());
    const peerOwn = ratio('peer') / ratio('peer-uncached');
    const note =
      `Peer versions: plugin-rest-cache ${v.restCache}, provider-rest-cache-redis ${v.provider}, plugin-redis ${v.redisV2} (its ioredis client), Strapi ${v.strapi}. ` +
      `The peer's speedup over its own app uncached (\`peer\` / \`peer-uncached\`): ${peerOwn.toFixed(2)}x. ` +
      `Per CPU-second (app + redis-server, less sensitive to other load on the machine): ours ${cpuRatio('ours').toFixed(2)}x of uncached, peer ${cpuRatio('peer').toFixed(2)}x, ` +
      `ETag off: ours-noetag÷peer ${(cpuRatio('ours-noetag') / cpuRatio('peer')).toFixed(2)}x, ETag on: ours÷peer-etag ${(cpuRatio('ours') / cpuRatio('peer-etag')).toFixed(2)}x ` +
      `(goal ${PEER_GOAL}x: ${cpuRatio('ours-noetag') >= PEER_GOAL * cpuRatio('peer') && cpuRatio('ours') >= PEER_GOAL * cpuRatio('peer-etag') ? 'met' : 'not met'}). ` +
      `Ours during the run: ${f.episodes} Redis-failure episode(s) logged, ${f.failed} failed or timed-out command(s) (each a miss served by the controller). ` +
      `Issue #16, a hot route expiring every ${EXPIRY_MS} ms: p99 with SWR ${swrP99.toFixed(2)}x a plain hit's (goal <= ${SWR_GOAL}x: ${swrP99 <= SWR_GOAL ? 'met' : 'not met'}), without SWR ${(p99('ours-expiry') / p99('ours')).toFixed(2)}x; ` +
      `controller runs per expiry (find calls / elapsed run time in expiries, idle expiries included): SWR ${perExpiry.swr.toFixed(2)}, no SWR ${perExpiry.expiry.toFixed(2)} (goal with SWR: <= 1). ` +
      `Origin down (\`ours-origin-down\`): ${p99('ours-origin-down').toFixed(1)} ms p99, ${rows.find((r) => r.name === 'ours-origin-down').ratio.toFixed(2)}x the requests/s of a hit. ` +
      `Issue #20, a hit against the in-memory ceiling (goal >= ${CEILING_GOAL}x): ETag off ${(ratio('ours-noetag') / ratio('ceiling')).toFixed(2)}x, ETag on ${(ratio('ours') / ratio('ceiling-etag')).toFixed(2)}x.`;
    return { rows, pass: ratio('ours-noetag') >= PEER_GOAL * ratio('peer') && ratio('ours') >= PEER_GOAL * ratio('peer-etag'), note };
  } finally {
    await Promise.all(apps.map((a) => a.stop()));
  }
}
