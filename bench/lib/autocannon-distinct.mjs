// autocannon in its own process for URLs that must differ on every request: the CLI's argument
// parser (subarg) reads `[...]` as a nested argument list, so `[<id>]` cannot be passed on the
// command line. argv[2]: JSON (or `@<file>` holding it) of { url, connections, durationS, pipelining, headers, cookies }; every
// request gets `&bench=<counter>-<pid>` (or `?bench=`) appended, or, with `cookies` (a list of
// Cookie header values), the URL as it is and the next cookie of the list, round robin (many
// distinct sessions), or, with `paths`, the next path of that list, round robin. Prints the result as JSON, like `--json`.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const arg = process.argv[2];
const { url, connections, durationS, pipelining, headers, cookies, paths } = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg);
const target = new URL(url);
const base = `${target.pathname}${target.search}${target.search ? '&' : '?'}bench=`;
let n = 0;
const result = await autocannon({
  url: target.origin,
  connections,
  duration: durationS,
  pipelining,
  headers,
  requests: [
    {
      method: 'GET',
      setupRequest: paths
        ? (req) => ({ ...req, path: paths[n++ % paths.length] })
        : cookies
          ? (req) => ({ ...req, path: `${target.pathname}${target.search}`, headers: { ...req.headers, cookie: cookies[n++ % cookies.length] } })
          : (req) => ({ ...req, path: `${base}${process.pid}-${n++}` }),
    },
  ],
});
process.stdout.write(JSON.stringify(result));
