/**
 * The chaos run's load generator, a process of its own (`node <bundle>/load.mjs <config.json>`):
 * bounded, mixed workers against every instance, each request appended as one JSON line to
 * `outFile` (LoadRecord). Runs for `durationMs`, then waits (bounded) for requests in flight.
 *
 * Workers: a writer per article (REST and GraphQL updates, each acknowledged write followed
 * by concurrent reads of it on every instance: read-your-write and the cache's coalescing), three
 * readers (findOne and find, cached), ten session users (each logging in, reading, counting),
 * rate-limit bursts (one bucket per burst, over `max`), admin logins over Strapi's limit, and
 * GraphQL automatic persisted queries (every worker but the writers and session users waits at most
 * 1 s for an answer before going on, so a frozen instance stalls none of them); and a control per instance (a route no Redis call is part of,
 * every 100 ms): what the loaded machine costs a request at that moment, Redis aside.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { rng, pick, type LoadConfig, type LoadRecord } from './common.js';

const REQUEST_TIMEOUT_MS = 30_000;
const cfg = JSON.parse(fs.readFileSync(process.argv[2] as string, 'utf8')) as LoadConfig;
const names = Object.keys(cfg.urls);
const out = fs.createWriteStream(cfg.outFile, { flags: 'a' });
const r = rng(cfg.seed ^ 0x5eed);
const started = Date.now();
const until = started + cfg.durationMs;
const running = (): boolean => Date.now() < until;
const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
let inFlight = 0;
let total = 0;
/** Start times of the requests in flight, per instance: a client-side passive health check, as a load balancer keeps. */
const pending = new Map<string, Set<number>>(names.map((n) => [n, new Set<number>()]));
const STUCK_MS = 1500;
const MAX_IN_FLIGHT_PER_INSTANCE = 24;
/** After a connection error an instance is left alone for a while (a load balancer's ejection). */
const downUntil = new Map<string, number>();
const stuck = (inst: string): boolean => {
  const now = Date.now();
  if ((downUntil.get(inst) ?? 0) > now) return true;
  const set = pending.get(inst)!;
  if (set.size >= MAX_IN_FLIGHT_PER_INSTANCE) return true;
  for (const t of set) if (now - t > STUCK_MS) return true;
  return false;
};
/** A random instance among those not looking stuck (every one when all do). */
const pickInstance = (): string => {
  const ok = names.filter((n) => !stuck(n));
  return pick(r, ok.length ? ok : names);
};

const emit = (rec: LoadRecord): void => {
  total++;
  out.write(`${JSON.stringify(rec)}\n`);
};

interface Answer {
  status: number;
  body: any;
  headers: Headers | null;
  t0: number;
  t1: number;
  err?: string;
}

async function call(inst: string, method: string, route: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const t0 = Date.now();
  inFlight++;
  const mine = pending.get(inst)!;
  let token = t0;
  while (mine.has(token)) token += 0.001;
  mine.add(token);
  try {
    const res = await fetch(`${cfg.urls[inst]}${route}`, {
      method,
      headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: 'manual',
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body, headers: res.headers, t0, t1: Date.now() };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    downUntil.set(inst, Date.now() + 2000);
    return { status: 0, body: null, headers: null, t0, t1: Date.now(), err: e.cause?.code ?? e.name ?? String(e) };
  } finally {
    inFlight--;
    mine.delete(token);
  }
}

const base = (k: LoadRecord['k'], inst: string, a: Answer): LoadRecord => {
  const rec: LoadRecord = { k, i: inst, t0: a.t0, t1: a.t1, st: a.status };
  if (a.err) rec.err = a.err;
  const rq = a.headers?.get('x-request-ms');
  const hd = a.headers?.get('x-handler-ms');
  const x = a.headers?.get('x-cache');
  if (rq) rec.rq = Number(rq);
  if (hd) rec.hd = Number(hd);
  if (x) rec.x = x;
  return rec;
};

const versionOf = (title: unknown): number => {
  const m = /:v(\d+)$/.exec(String(title));
  return m ? Number(m[1]) : -1;
};

// --- cached reads, writes, read-your-write ------------------------------------------------------

const versions = cfg.articles.map(() => 0);
const detached = new Set<Promise<void>>();
const track = (p: Promise<void>): void => {
  detached.add(p);
  void p.finally(() => detached.delete(p));
};
/** Wait for a request at most HEDGE_MS, then go on (it is still recorded when it ends): a frozen instance must not stall a worker. */
const HEDGE_MS = 1000;
const hedged = async (p: Promise<void>): Promise<void> => {
  track(p);
  await Promise.race([p, sleep(HEDGE_MS)]);
};

async function readOne(inst: string, a: number): Promise<void> {
  const ans = await call(inst, 'GET', `/api/articles/${cfg.articles[a]}`);
  emit({ ...base('read', inst, ans), a, v: ans.status === 200 ? versionOf(ans.body?.data?.title) : -1 });
}

async function readList(inst: string): Promise<void> {
  const ans = await call(inst, 'GET', '/api/articles?sort=id:asc&pagination[pageSize]=50');
  const vs: Record<string, number> = {};
  if (ans.status === 200 && Array.isArray(ans.body?.data)) {
    for (const doc of ans.body.data) {
      const idx = cfg.articles.indexOf(doc.documentId);
      if (idx >= 0) vs[idx] = versionOf(doc.title);
    }
  }
  emit({ ...base('list', inst, ans), vs });
}

const UPDATE = 'mutation Chaos($id: ID!, $title: String) { updateArticle(documentId: $id, data: { title: $title }) { documentId title } }';

async function writer(a: number): Promise<void> {
  // One writer per article, each sequential: versions of one article are written in order.
  while (running()) {
    const v = ++versions[a]!;
    const inst = pickInstance();
    const title = `${cfg.articles[a]}:v${v}`;
    const auth = { authorization: `Bearer ${cfg.token}` };
    const viaGraphql = r() < 0.4;
    const ans = viaGraphql
      ? await call(inst, 'POST', '/graphql', { body: { query: UPDATE, variables: { id: cfg.articles[a], title } }, headers: auth })
      : await call(inst, 'PUT', `/api/articles/${cfg.articles[a]}`, { body: { data: { title } }, headers: auth });
    const got = viaGraphql ? ans.body?.data?.updateArticle?.title : ans.body?.data?.title;
    const ok = ans.status === 200 && got === title;
    emit({ ...base('write', inst, ans), a, v, via: viaGraphql ? 'graphql' : 'rest', ...(ok ? {} : { st: ans.status === 200 ? 299 : ans.status }) });
    // Right after the acknowledged write: the same document on every instance at once, twice each
    // (not awaited: a frozen instance must not stall the writer; bounded per instance).
    if (ok) for (const i of names) if (pending.get(i)!.size < MAX_IN_FLIGHT_PER_INSTANCE) for (let k = 0; k < 2; k++) track(readOne(i, a));
    await sleep(150 * cfg.articles.length);
  }
}

async function reader(): Promise<void> {
  while (running()) {
    const inst = pickInstance();
    await hedged(r() < 0.25 ? readList(inst) : readOne(inst, Math.floor(r() * cfg.articles.length)));
    await sleep(40);
  }
}

// --- sessions -----------------------------------------------------------------------------------

async function sessionUser(name: string): Promise<void> {
  const user = { name, cookie: '' };
  while (running()) {
    const inst = pickInstance();
    const headers: Record<string, string> = user.cookie ? { cookie: user.cookie } : {};
    const op: 'login' | 'read' | 'incr' = !user.cookie ? 'login' : r() < 0.6 ? 'read' : 'incr';
    const ans =
      op === 'login'
        ? await call(inst, 'POST', '/api/chaos/session/login', { body: { user: user.name }, headers })
        : op === 'read'
          ? await call(inst, 'GET', '/api/chaos/session', { headers })
          : await call(inst, 'POST', '/api/chaos/session/incr', { headers });
    if (op === 'login' && ans.status === 200 && ans.headers) {
      const jar = ans.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .filter(Boolean);
      if (jar.length) user.cookie = jar.join('; ');
    }
    const ok = ans.status === 200 || ans.status === 409;
    emit({ ...base('sess', inst, ans), u: user.name, op, ru: ok ? (ans.body?.user ?? null) : undefined, rn: ok ? (ans.body?.n ?? null) : undefined });
    await sleep(150 + Math.floor(r() * 150));
  }
}

// --- rate limit bursts --------------------------------------------------------------------------

async function rateLimitBursts(): Promise<void> {
  let burst = 0;
  while (running()) {
    const bucket = `${cfg.seed}-${started}-${burst++}`;
    const hits = Array.from({ length: 15 }, () => pickInstance());
    // Four at a time, on random instances: concurrent hits on one key (the limiter's coalescing).
    for (let k = 0; k < hits.length; k += 4) {
      await hedged(
        Promise.all(
          hits.slice(k, k + 4).map(async (inst) => {
            const ans = await call(inst, 'GET', '/api/chaos/limited', { headers: { 'x-chaos-bucket': bucket } });
            const state = ans.status === 200 ? ans.body?.rateLimit : null;
            emit({ ...base('rl', inst, ans), b: bucket, counted: ans.status === 429 || Boolean(state), ...(state ? { cur: Number(state.current) } : {}) });
          }),
        ).then(() => undefined),
      );
    }
    await sleep(700);
  }
}

// --- admin logins over the limit ----------------------------------------------------------------

async function adminLogins(): Promise<void> {
  let n = 0;
  while (running()) {
    const email = `over-${started}-${n++}@chaos.test`;
    for (let k = 0; k < 7 && running(); k++) {
      const inst = pickInstance();
      await hedged(
        call(inst, 'POST', '/admin/login', { body: { email, password: cfg.loginPassword } }).then((ans) => emit({ ...base('login', inst, ans), e: email })),
      );
    }
    await sleep(800);
  }
}

// --- GraphQL automatic persisted queries -------------------------------------------------------

async function persistedQueries(): Promise<void> {
  const queries = [0, 1, 2].map((k) => `query ChaosPq${k} { articles(pagination: { pageSize: ${k + 2} }) { documentId title } }`);
  const once = async (query: string, inst: string): Promise<void> => {
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    let ans = await call(inst, 'POST', '/graphql', { body: { extensions } });
    const notFound = (a: Answer): boolean =>
      Array.isArray(a.body?.errors) && a.body.errors.some((e: any) => e?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND');
    let pq = 'hit';
    if (notFound(ans)) {
      emit({ ...base('gql', inst, ans), pq: 'miss' });
      ans = await call(inst, 'POST', '/graphql', { body: { query, extensions } });
      pq = 'registered';
    }
    const ok = ans.status === 200 && Array.isArray(ans.body?.data?.articles);
    emit({ ...base('gql', inst, ans), pq: ok ? pq : 'error' });
  };
  while (running()) {
    await hedged(once(pick(r, queries), pickInstance()));
    await sleep(60);
  }
}

// --- control: a route that touches no Redis, on every instance ---------------------------------

/** The time the same instance took, at the same moment, for a request Redis has no part in. */
async function control(inst: string): Promise<void> {
  while (running()) {
    const ans = await call(inst, 'GET', '/api/chaos/ping');
    emit(base('ctl', inst, ans));
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const users = Array.from({ length: 10 }, (_, k) => sessionUser(`u${k}`));
  const workers = [
    ...cfg.articles.map((_, a) => writer(a)),
    reader(),
    reader(),
    reader(),
    ...users,
    rateLimitBursts(),
    adminLogins(),
    persistedQueries(),
    ...names.map(control),
  ];
  const progress = setInterval(() => process.stdout.write(`${JSON.stringify({ progress: true, total, inFlight })}\n`), 5000);
  await Promise.all(workers);
  while (detached.size) await Promise.all([...detached]);
  clearInterval(progress);
  await new Promise<void>((res) => out.end(res));
  process.stdout.write(`${JSON.stringify({ done: true, total })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
