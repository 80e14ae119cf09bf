// Summarise a V8 CPU profile (node:inspector's `Profiler.stop`) by where the time was spent: self time grouped by
// package (node_modules/<name>), Node's own code, this repository's bundle (dist/), the bench
// server, GC, idle and the rest, in µs per request served while it was recorded.
/** The group a profile node's self time counts under. */
function groupOf({ functionName, url }) {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(program)' || functionName === '(root)') return '(program: V8 and native code)';
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node (http, net, streams, ...)';
  if (url.includes('/dist/')) return 'redis-suite (dist)';
  if (url.includes('/bench/')) return 'bench server';
  return url;
}

/** Self time per group in ms, and the profile's total ms (a `Profiler.stop` profile). */
export function profileByGroup(profile) {
  const groupById = new Map(profile.nodes.map((n) => [n.id, groupOf(n.callFrame)]));
  const ms = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const g = groupById.get(profile.samples[i]) ?? '(unknown)';
    ms.set(g, (ms.get(g) ?? 0) + dt);
    total += dt;
  }
  return { ms, total };
}

/** Rows [group, µs per request] for each profile, the groups ordered by the largest of them. */
export function compareProfiles(runs) {
  const groups = new Set(runs.flatMap((r) => [...r.ms.keys()]));
  const perRequest = (r, g) => ((r.ms.get(g) ?? 0) * 1000) / r.requests;
  return [...groups].map((g) => [g, ...runs.map((r) => perRequest(r, g))]).sort((a, b) => Math.max(...b.slice(1)) - Math.max(...a.slice(1)));
}

let session;
/**
 * `npm run bench:profile`'s control routes in a bench server (BENCH_PROFILE=1 only):
 * `/__profile/start` starts a CPU profile of the server's process, `/__profile/stop` ends it and
 * answers it as JSON. Returns false for any other path.
 */
export async function profileRoute(path, res) {
  if (process.env.BENCH_PROFILE !== '1' || !path.startsWith('/__profile/')) return false;
  if (path === '/__profile/start') {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    res.end('started');
  } else {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(profile));
  }
  return true;
}
