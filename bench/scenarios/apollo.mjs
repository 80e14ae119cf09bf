// Scenario "apollo": Apollo Server 4 response-cache hits (the same query, every request a hit)
// with the suite's Redis cache, against Apollo's default in-memory cache (not shared between
// instances) and against @keyv/redis 5 (its own node-redis client), in one server process.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { compare, startServer } from '../lib/runner.mjs';

export const title = 'Apollo: response-cache hits, Redis cache vs in-memory vs @keyv/redis';
export const target =
  '`ours` >= 0.9x of `memory` (while shared across instances) and `ours` ahead of `keyv-redis`; issue #20: 1,000 distinct persisted queries within 0.9x of one';

const QUERY = encodeURIComponent('{ books { title author year } }');
const MANY = 1000;

/** The GET path of persisted query `text` by its hash alone (automatic persisted queries). */
export const persisted = (text, server = 'ours') =>
  `/${server}?extensions=${encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(text).digest('hex') } }))}`;

/** Register `text` (query and hash in one GET), then check the hash alone answers. */
async function register(base, text, server = 'ours') {
  const hash = createHash('sha256').update(text).digest('hex');
  const ext = encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }));
  const first = await fetch(`${base}/${server}?query=${encodeURIComponent(text)}&extensions=${ext}`);
  const again = await fetch(base + persisted(text, server));
  const body = await again.json();
  if (first.status !== 200 || again.status !== 200 || !body.data)
    throw new Error(`persisted query not served: ${again.status} ${JSON.stringify(body).slice(0, 200)}`);
}

/** Issue #20: 1,000 persisted queries, each its own alias (so its own hash and cache entry). */
export const persistedTexts = () => Array.from({ length: MANY }, (_, i) => `{ books { title author year } q${i}: __typename }`);

/** Register every text on `server` (the first alone, then 50 at a time). */
export async function registerAll(base, texts, server) {
  await register(base, texts[0], server);
  for (let i = 1; i < texts.length; i += 50) await Promise.all(texts.slice(i, i + 50).map((t) => register(base, t, server)));
}

export async function measure({ redisUrl, redisPid, opts }) {
  const server = await startServer(fileURLToPath(new URL('./apollo-server.mjs', import.meta.url)), { REDIS_URL: redisUrl });
  // requests per CPU-second of the server and its Redis: the load generator shares the cores, and
  // this is the cost per request that its own share does not change
  const cpuPids = [server.pid, ...(redisPid ? [redisPid] : [])];
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const texts = persistedTexts();
    for (const server of ['ours', 'memory']) await registerAll(base, texts, server);
    const rows = await compare(
      base,
      [
        { name: 'memory', path: `/memory?query=${QUERY}`, what: "Apollo's default cache (in-memory LRU, per process)" },
        { name: 'keyv-redis', path: `/keyv-redis?query=${QUERY}`, what: 'KeyvAdapter + Keyv + `@keyv/redis` 5 (node-redis)', baseline: 'memory' },
        { name: 'ours', path: `/ours?query=${QUERY}`, what: '`createApolloCache()` (KeyvAdapter + Keyv + ioredis, bounded)', baseline: 'memory' },
        {
          name: 'ours-apq',
          path: persisted(texts[0]),
          // the same load generator path as the 1,000 (a list of one): both pay its per-request cost
          paths: [persisted(texts[0])],
          what: 'ours, one persisted query sent by its hash (APQ lookup + response-cache hit), through the round-robin load generator (a list of one)',
          baseline: 'memory',
        },
        {
          name: 'ours-apq-many',
          path: persisted(texts[0]),
          paths: texts.map((t) => persisted(t)),
          what: `ours, ${MANY} persisted queries by hash, round robin`,
          baseline: 'ours-apq',
        },
        {
          name: 'memory-apq',
          path: persisted(texts[0], 'memory'),
          paths: [persisted(texts[0], 'memory')],
          what: "Apollo's in-memory cache, the one persisted query (the same load generator path)",
          baseline: 'memory',
        },
        {
          name: 'memory-apq-many',
          path: persisted(texts[0], 'memory'),
          paths: texts.map((t) => persisted(t, 'memory')),
          what: `Apollo's in-memory cache, the ${MANY} persisted queries: what many queries cost Apollo itself`,
          baseline: 'memory-apq',
        },
      ].map((v) => ({ ...v, cpuPids })),
      opts,
    );
    const ours = rows.find((r) => r.name === 'ours');
    const keyvRedis = rows.find((r) => r.name === 'keyv-redis');
    // the same measurement of `ours`, as a ratio to @keyv/redis
    rows.push({
      ...ours,
      name: 'ours/keyv',
      what: '`ours` relative to `keyv-redis` (same samples)',
      baselineOf: 'keyv-redis',
      ratio: ours.rps / keyvRedis.rps,
      cpuRatio: ours.perCpuS / keyvRedis.perCpuS,
    });
    const many = rows.find((r) => r.name === 'ours-apq-many');
    const memoryMany = rows.find((r) => r.name === 'memory-apq-many');
    const note =
      `Issue #20, ${MANY} persisted queries against one: ours ${many.ratio.toFixed(2)}x, Apollo's in-memory cache ${memoryMany.ratio.toFixed(2)}x ` +
      `(goal for ours >= 0.9x: ${many.ratio >= 0.9 ? 'met' : 'not met'}; ours relative to the in-memory drop: ${(many.ratio / memoryMany.ratio).toFixed(2)}x); ` +
      `per CPU-second of the server and Redis: ours ${many.cpuRatio.toFixed(2)}x, in-memory ${memoryMany.cpuRatio.toFixed(2)}x.`;
    return { rows, pass: ours.ratio >= 0.9 && ours.rps > keyvRedis.rps && many.ratio >= 0.9, note };
  } finally {
    await server.stop();
  }
}
