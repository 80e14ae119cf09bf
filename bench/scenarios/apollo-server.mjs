// Server under test for the "apollo" scenario: three Apollo Server 4 instances in one process,
// same schema, same query, each with the response cache plugin, differing only in `cache`:
//   /memory      Apollo's default in-memory LRU (per process, not shared)
//   /ours        createApolloCache() on the suite's registry connection (ioredis, bounded)
//   /keyv-redis  KeyvAdapter over Keyv over @keyv/redis 5 with its own node-redis client
// Requests are GETs (autocannon sends a URL), so CSRF prevention is off.
import http from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { KeyvAdapter } from '@apollo/utils.keyvadapter';
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { createApolloCache, createRedisRegistry } from '../../dist/index.mjs';
import { profileRoute } from '../lib/cpuprofile.mjs';

const url = process.env.REDIS_URL;
const registry = createRedisRegistry({ connections: { default: { connection: url } } });
await registry.waitUntilReady();
const keyvRedis = new KeyvRedis(url);

const typeDefs = /* GraphQL */ `
  enum CacheControlScope {
    PUBLIC
    PRIVATE
  }
  directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
  type Book {
    title: String
    author: String
    year: Int
  }
  type Query {
    books: [Book] @cacheControl(maxAge: 300)
  }
`;
const books = Array.from({ length: 20 }, (_, i) => ({ title: `Book ${i}`, author: `Author ${i % 7}`, year: 1900 + i }));
const resolvers = { Query: { books: () => books } };

const make = async (cache) => {
  const server = new ApolloServer({ typeDefs, resolvers, cache, csrfPrevention: false, plugins: [responseCachePlugin()] });
  await server.start();
  return server;
};
const servers = {
  '/memory': await make(undefined),
  '/ours': await make(createApolloCache({ registry, connection: 'default', namespace: 'bench:ours' })),
  '/keyv-redis': await make(new KeyvAdapter(new Keyv({ store: keyvRedis, namespace: 'bench:keyv-redis', useKeyPrefix: false }))),
};

const httpServer = http.createServer(async (req, res) => {
  const [path, search = ''] = (req.url ?? '').split('?');
  if (await profileRoute(path, res)) return;
  const server = servers[path];
  if (!server) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const headers = new HeaderMap();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
  const response = await server.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body: undefined },
    context: async () => ({}),
  });
  res.statusCode = response.status ?? 200;
  for (const [k, v] of response.headers) res.setHeader(k, v);
  if (response.body.kind === 'complete') {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
});
httpServer.listen(0, '127.0.0.1', () => console.log(`LISTENING ${httpServer.address().port}`));
process.on('SIGTERM', async () => {
  httpServer.close();
  await Promise.all(Object.values(servers).map((s) => s.stop()));
  await keyvRedis.disconnect();
  await registry.close();
  process.exit(0);
});
