'use strict';

// The tour `npm run demo` prints, and tests/demo runs (CommonJS, so that both load it): a list of steps, each a shell command
// (curl), what its output shows, and a check of that output. To add a step, add an object to
// STEPS where it belongs in the story:
//
//   {
//     id: 'cache-hit',                      unique, used by tests/demo in test names
//     section: 'Response cache',            steps are printed grouped by section, in order
//     title: (ctx) => '...',                one line
//     command: (ctx) => "curl ...",         what the user runs (copy-pasteable, POSIX sh)
//     expect: (ctx) => '...',               what to look for in its output
//     check: (output, ctx) => {},           throws (see must()) when the output does not show it
//     when: (ctx) => boolean,               optional: only in some modes (ctx.multi, ctx.admin)
//     before: async (ctx) => {},            optional, tests only: wait until the step can pass
//                                           (e.g. the first cron tick), bounded
//     after: async (ctx) => {},             optional, tests only: let later steps start clean
//                                           (e.g. wait out the rate-limit window)
//   }
//
// ctx (built by scripts/demo.mjs): { a, b, urls, names, multi, topology, article: { documentId,
// title }, editedTitle, token, authFile, admin: { email, password } | null, jar }. `b` is the
// second instance with --instances 2, else the same as `a`. authFile holds the header
// `Authorization: Bearer <token>` (curl -H @file), so commands stay short.

/** A failed check: the message says what the tour promised and what came out. */
class TourCheckError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TourCheckError';
  }
}

function must(condition, what, output) {
  if (!condition) throw new TourCheckError(`expected ${what}; the output was:\n${output}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn() every `every` ms until it returns a truthy value, at most `ms`. */
async function until(what, ms, fn, every = 250) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new TourCheckError(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

const q = (text) => `'${String(text).replace(/'/g, `'\\''`)}'`;
const name = (ctx, url) => ctx.names[ctx.urls.indexOf(url)] ?? 'A';
const on = (ctx, url) => (ctx.multi ? ` on ${name(ctx, url)}` : '');
const articleUrl = (ctx, base) => `${base}/api/articles/${ctx.article.documentId}?fields[0]=title`;
const LIST = '/api/articles?fields[0]=title';
const header = (output, header) => new RegExp(`^${header}: *(\\S+)`, 'im').exec(output)?.[1];

/** The admin panel's views (/admin/plugins/redis/<path>), each with its page heading. */
const ADMIN_VIEWS = [
  { path: 'dashboard', heading: 'Dashboard' },
  { path: 'connections', heading: 'Connections' },
  { path: 'server', heading: 'Server' },
  { path: 'keys', heading: 'Keys' },
  { path: 'cache', heading: 'Cache' },
  { path: 'cron', heading: 'Cron' },
  { path: 'counters', heading: 'Counters' },
];

// Limits the demo configures (scripts/demo/config): the tour's numbers come from here.
const API_LIMIT = { max: 20, windowSec: 10 };
const ADMIN_LOGIN_LIMIT = 5;

const STEPS = [
  // --- Response cache --------------------------------------------------------------------------
  {
    id: 'cache-miss',
    section: 'Response cache (plugin::redis.cache on articles, authors and tags)',
    title: (ctx) => `The first read of an article is a miss${on(ctx, ctx.a)}`,
    command: (ctx) => `curl -gsi ${q(articleUrl(ctx, ctx.a))} | grep -iE '^x-cache|title'`,
    expect: (ctx) => `X-Cache: MISS, and the title "${ctx.article.title}"`,
    check(output, ctx) {
      must(/^x-cache: MISS\b/im.test(output), 'X-Cache: MISS', output);
      must(output.includes(`"title":"${ctx.article.title}"`), `the title "${ctx.article.title}"`, output);
    },
  },
  {
    id: 'cache-hit',
    section: 'Response cache (plugin::redis.cache on articles, authors and tags)',
    title: (ctx) => (ctx.multi ? `The same read on ${name(ctx, ctx.b)} is a hit: both instances share one Redis` : 'The same read again is a hit'),
    command: (ctx) => `curl -gsi ${q(articleUrl(ctx, ctx.b))} | grep -iE '^(x-cache|age):'`,
    expect: () => 'X-Cache: HIT, and Age: seconds since it was stored',
    check(output) {
      must(/^x-cache: HIT\b/im.test(output), 'X-Cache: HIT', output);
      must(/^age: \d+/im.test(output), 'an Age header', output);
    },
  },
  {
    id: 'cache-write',
    section: 'Response cache (plugin::redis.cache on articles, authors and tags)',
    title: (ctx) => `A write${on(ctx, ctx.a)} (REST, with the demo's API token) purges the article entries`,
    command: (ctx) =>
      `curl -gs -X PUT ${q(articleUrl(ctx, ctx.a))} -H @${q(ctx.authFile)} ` +
      `-H 'Content-Type: application/json' -d ${q(JSON.stringify({ data: { title: ctx.editedTitle } }))}`,
    expect: (ctx) => `the article with its new title "${ctx.editedTitle}"`,
    check(output, ctx) {
      must(output.includes(`"title":"${ctx.editedTitle}"`), `the new title "${ctx.editedTitle}"`, output);
    },
  },
  {
    id: 'cache-fresh',
    section: 'Response cache (plugin::redis.cache on articles, authors and tags)',
    title: (ctx) => `The next read${on(ctx, ctx.b)} is fresh`,
    command: (ctx) => `curl -gsi ${q(articleUrl(ctx, ctx.b))} | grep -iE '^x-cache|title'`,
    expect: (ctx) => `X-Cache: MISS, and the new title "${ctx.editedTitle}" (read it again: HIT)`,
    check(output, ctx) {
      must(/^x-cache: MISS\b/im.test(output), 'X-Cache: MISS', output);
      must(output.includes(`"title":"${ctx.editedTitle}"`), `the new title "${ctx.editedTitle}"`, output);
    },
  },

  // --- Rate limit --------------------------------------------------------------------------------
  {
    id: 'ratelimit-headers',
    section: `Rate limit (plugin::redis.rateLimit on /api: ${API_LIMIT.max} requests per ${API_LIMIT.windowSec} s per IP, counted in Redis)`,
    title: () => 'Every /api answer carries the limit',
    command: (ctx) => `curl -gsi ${q(ctx.a + LIST)} | grep -i '^ratelimit'`,
    expect: () =>
      `RateLimit-Limit: ${API_LIMIT.max}, RateLimit-Remaining, RateLimit-Reset (seconds), RateLimit-Policy: ${API_LIMIT.max};w=${API_LIMIT.windowSec}`,
    check(output) {
      must(header(output, 'ratelimit-limit') === String(API_LIMIT.max), `RateLimit-Limit: ${API_LIMIT.max}`, output);
      must(/^\d+$/.test(header(output, 'ratelimit-remaining') ?? ''), 'RateLimit-Remaining', output);
      const reset = Number(header(output, 'ratelimit-reset'));
      must(reset >= 1 && reset <= API_LIMIT.windowSec, `RateLimit-Reset from 1 to ${API_LIMIT.windowSec}`, output);
      must(header(output, 'ratelimit-policy') === `${API_LIMIT.max};w=${API_LIMIT.windowSec}`, 'RateLimit-Policy', output);
    },
  },
  {
    id: 'ratelimit-429',
    section: `Rate limit (plugin::redis.rateLimit on /api: ${API_LIMIT.max} requests per ${API_LIMIT.windowSec} s per IP, counted in Redis)`,
    title: (ctx) =>
      ctx.multi
        ? `${API_LIMIT.max + 2} requests, alternating ${ctx.names[0]} and ${ctx.names[1]}: one count for both`
        : `${API_LIMIT.max + 1} requests in a row`,
    command: (ctx) => {
      const once = (url) => `curl -gs -o /dev/null -w '%{http_code} ' ${url}`;
      const loop = ctx.multi
        ? `for i in $(seq ${API_LIMIT.max / 2 + 1}); do for u in ${q(ctx.a)} ${q(ctx.b)}; do ${once(`"$u"${q(LIST)}`)}; done; done`
        : `for i in $(seq ${API_LIMIT.max + 1}); do ${once(q(ctx.a + LIST))}; done`;
      return `${loop}; echo; curl -gsi ${q(ctx.b + LIST)} | grep -iE '^(HTTP|retry-after)|RateLimitError'`;
    },
    expect: () =>
      `200s, then 429 once the window's ${API_LIMIT.max} are used; then HTTP/1.1 429, Retry-After: <seconds>, and ` +
      `Strapi's error body (RateLimitError). /api answers again when the window resets (at most ${API_LIMIT.windowSec} s)`,
    check(output) {
      const codes = output.split('\n')[0].trim().split(/\s+/);
      must(codes.includes('429'), 'a 429 among the status codes', output);
      const ok = codes.filter((code) => code === '200').length;
      must(ok <= API_LIMIT.max && codes.every((code) => code === '200' || code === '429'), `at most ${API_LIMIT.max} 200s, then 429s`, output);
      must(codes.indexOf('429') >= ok, 'every 200 before the first 429', output);
      must(/^HTTP\/[\d.]+ 429/m.test(output), 'HTTP/1.1 429', output);
      must(/^retry-after: \d+/im.test(output), 'a Retry-After header', output);
      must(/"name":"RateLimitError"/.test(output), 'the RateLimitError body', output);
    },
    // Start the loop early in a window, so that it does not span two (a reset in the middle would
    // put 200s after 429s): when less than 6 s are left, wait for the reset.
    async before(ctx) {
      const res = await fetch(ctx.a + LIST, { method: 'HEAD' });
      const reset = Number(res.headers.get('ratelimit-reset'));
      if (res.status === 429 || !(reset >= 6)) await sleep(((Number.isFinite(reset) ? reset : API_LIMIT.windowSec) + 0.5) * 1000);
    },
    // Later steps call /api: wait for the window to reset.
    async after(ctx) {
      await until(
        `/api to answer again after the ${API_LIMIT.windowSec} s window`,
        (API_LIMIT.windowSec + 5) * 1000,
        async () => {
          const res = await fetch(ctx.a + LIST, { method: 'HEAD' });
          return res.status === 200;
        },
        500,
      );
    },
  },

  // --- Sessions ----------------------------------------------------------------------------------
  {
    id: 'session-new',
    section: 'Sessions (plugin::redis.session instead of strapi::session)',
    title: (ctx) => `A first visit${on(ctx, ctx.a)} starts a session (cookie jar ${ctx.jar})`,
    command: (ctx) => `curl -s -c ${q(ctx.jar)} ${q(`${ctx.a}/api/demo/visits`)}`,
    expect: () => '"visits": 1 (the session data is in Redis, key sess:<id>; the cookie holds the id)',
    check(output) {
      must(/"visits": 1\b/.test(output), '"visits": 1', output);
    },
  },
  {
    id: 'session-kept',
    section: 'Sessions (plugin::redis.session instead of strapi::session)',
    title: (ctx) => (ctx.multi ? `The same cookie on ${name(ctx, ctx.b)}: the session follows` : 'The same cookie again: the session is kept'),
    command: (ctx) => `curl -s -b ${q(ctx.jar)} -c ${q(ctx.jar)} ${q(`${ctx.b}/api/demo/visits`)}`,
    expect: (ctx) => `"visits": 2${ctx.multi ? `, "instance": "${name(ctx, ctx.b)}"` : ''} (and 3, 4, ... each time you run it)`,
    check(output, ctx) {
      must(/"visits": 2\b/.test(output), '"visits": 2', output);
      if (ctx.multi) must(output.includes(`"instance": "${name(ctx, ctx.b)}"`), `"instance": "${name(ctx, ctx.b)}"`, output);
    },
  },

  // --- Cron guard --------------------------------------------------------------------------------
  {
    id: 'cron',
    section: 'Cron guard (settings.enableRedlock: a task every 10 s, each tick run once across instances)',
    title: (ctx) => (ctx.multi ? 'Which instance ran each tick' : 'The task runs every 10 s'),
    command: (ctx) => `curl -s ${q(`${ctx.b}/api/demo/cron`)}`,
    expect: (ctx) =>
      ctx.multi
        ? `lastRuns: one line per 10-s tick, each tick once, on ${ctx.names[0]} or ${ctx.names[1]} (whichever claimed it first); ` +
          `thisInstance.claimedElsewhere: the ticks the other instance ran`
        : 'lastRuns: one line per 10-s tick (:00, :10, :20, ...), each tick once; thisInstance.runs counts them',
    check(output, ctx) {
      const view = JSON.parse(output);
      must(view.lastRuns.length >= 1, 'at least one run', output);
      const ticks = view.lastRuns.map((line) => line.split(' on ')[0]);
      must(new Set(ticks).size === ticks.length, 'each tick once', output);
      must(
        ticks.every((tick) => /^\d\d:\d\d:\d0 UTC$/.test(tick)),
        'ticks 10 s apart (:00, :10, ...)',
        output,
      );
      must(
        view.lastRuns.every((line) => ctx.names.includes(line.split(' on ')[1])),
        'runs on the demo instances only',
        output,
      );
      must(view.thisInstance.runs + view.thisInstance.claimedElsewhere >= 1, 'thisInstance counting ticks', output);
    },
    // The first tick comes up to 10 s after boot.
    async before(ctx) {
      await until(
        'the first cron tick',
        25_000,
        async () => {
          const view = await (await fetch(`${ctx.b}/api/demo/cron`)).json();
          return view.lastRuns.length >= 1;
        },
        500,
      );
    },
  },

  // --- GraphQL -----------------------------------------------------------------------------------
  {
    id: 'graphql-miss',
    section: "GraphQL (Apollo's cache in Redis: createApolloCache, response cache plugin)",
    title: (ctx) => `A query${on(ctx, ctx.a)}`,
    command: (ctx) =>
      `curl -si -H 'Content-Type: application/json' -d '{"query":"{ tags { name } }"}' ${q(`${ctx.a}/graphql`)} | grep -iE '^(HTTP|age)|"data"'`,
    expect: () => 'HTTP/1.1 200 and the tags, with no Age header: Apollo ran it and stored the response in Redis (apollo:fqc:<hash>)',
    check(output) {
      must(/^HTTP\/[\d.]+ 200/m.test(output), 'HTTP 200', output);
      must(/"name":"redis"/.test(output), 'the tags', output);
      must(!/^age:/im.test(output), 'no Age header', output);
    },
  },
  {
    id: 'graphql-hit',
    section: "GraphQL (Apollo's cache in Redis: createApolloCache, response cache plugin)",
    title: (ctx) => `The same query${on(ctx, ctx.b)}`,
    command: (ctx) =>
      `curl -si -H 'Content-Type: application/json' -d '{"query":"{ tags { name } }"}' ${q(`${ctx.b}/graphql`)} | grep -iE '^(HTTP|age)|"data"'`,
    expect: (ctx) => `Age: <seconds>: served from the Apollo cache in Redis${ctx.multi ? ` (the entry ${ctx.names[0]} stored)` : ''}`,
    check(output) {
      must(/^age: \d+/im.test(output), 'an Age header', output);
      must(/"name":"redis"/.test(output), 'the tags', output);
    },
  },

  // --- Strapi's login limiters -------------------------------------------------------------------
  {
    id: 'login-limit',
    section: "Strapi's login limiters (RedisRateLimitStore in config/admin and users-permissions)",
    title: (ctx) => (ctx.multi ? `6 failed admin logins, alternating ${ctx.names[0]} and ${ctx.names[1]}` : '6 failed admin logins'),
    command: (ctx) => {
      const each = ctx.multi
        ? `for u in ${Array.from({ length: ADMIN_LOGIN_LIMIT + 1 }, (_, i) => q(i % 2 ? ctx.b : ctx.a)).join(' ')}`
        : `for i in $(seq ${ADMIN_LOGIN_LIMIT + 1})`;
      const url = ctx.multi ? '"$u/admin/login"' : q(`${ctx.a}/admin/login`);
      return (
        `${each}; do curl -s -o /dev/null -w '%{http_code} ' -H 'Content-Type: application/json' ` +
        `-d '{"email":"nobody@example.com","password":"wrong"}' ${url}; done; echo`
      );
    },
    expect: () =>
      `400 400 400 400 400 429: Strapi's admin login limit (${ADMIN_LOGIN_LIMIT} per 5 min per email and IP), counted in Redis ` +
      '(key rl:admin:nobody@example.com:/admin/login:...), so every instance shares it',
    check(output) {
      const codes = output.trim().split(/\s+/);
      const want = [...Array(ADMIN_LOGIN_LIMIT).fill('400'), '429'];
      must(codes.join(' ') === want.join(' '), want.join(' '), output);
    },
  },

  // --- Admin panel -------------------------------------------------------------------------------
  {
    id: 'admin',
    section: 'Admin panel (the Redis entry of the admin menu)',
    when: (ctx) => Boolean(ctx.admin),
    title: (ctx) => `Open ${ctx.a}/admin and log in as ${ctx.admin.email} / ${ctx.admin.password}`,
    command: (ctx) => `curl -s -o /dev/null -w '%{http_code} %{content_type}\\n' ${q(`${ctx.a}/admin/plugins/redis/connections`)}`,
    expect: (ctx) => `200 text/html. The views: ${ADMIN_VIEWS.map((view) => `${ctx.a}/admin/plugins/redis/${view.path}`).join(', ')}`,
    check(output) {
      must(/^200 text\/html/.test(output.trim()), '200 text/html', output);
    },
  },
];

/** The steps that apply to this demo (multi-instance, admin or not). */
const stepsFor = (ctx) => STEPS.filter((step) => !step.when || step.when(ctx));

/** The tour as printed: steps grouped by section, numbered, each with its command and what to look for. */
function renderTour(ctx) {
  const lines = [];
  let section;
  stepsFor(ctx).forEach((step, i) => {
    if (step.section !== section) {
      section = step.section;
      lines.push('', `  ${section}`);
    }
    lines.push(`  ${String(i + 1).padStart(2)}. ${step.title(ctx)}`, `      ${step.command(ctx)}`, `      -> ${step.expect(ctx)}`);
  });
  return lines.join('\n');
}

module.exports = { STEPS, ADMIN_VIEWS, API_LIMIT, ADMIN_LOGIN_LIMIT, TourCheckError, must, stepsFor, renderTour };
