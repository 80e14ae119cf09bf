/**
 * A small real Apollo Server 4 for the cache tests: `@cacheControl` hints, the response cache
 * plugin, automatic persisted queries, and a count of resolver calls (a hit runs none).
 */
import { createHash } from 'node:crypto';
import { ApolloServer, type ApolloServerOptions, type BaseContext, type GraphQLResponse } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';

export const typeDefs = /* GraphQL */ `
  enum CacheControlScope {
    PUBLIC
    PRIVATE
  }
  directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
  type Book {
    title: String
    author: String
  }
  type Query {
    books: [Book] @cacheControl(maxAge: 30)
    now: String
  }
`;

export const BOOKS = 'query Books { books { title author } }';
export const NOW = 'query Now { now }';

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export interface TestServer {
  server: ApolloServer<BaseContext>;
  /** Resolver calls so far. */
  calls: { books: number; now: number };
  run(query: string, extensions?: Record<string, unknown>): Promise<{ data: unknown; errors: unknown; age: string | undefined }>;
  stop(): Promise<void>;
}

/** Build (and start, unless `start: false`, e.g. for `startStandaloneServer`) an Apollo Server. */
export async function startApollo(
  options: Partial<ApolloServerOptions<BaseContext>> & Pick<ApolloServerOptions<BaseContext>, 'cache'>,
  { start = true }: { start?: boolean } = {},
): Promise<TestServer> {
  const calls = { books: 0, now: 0 };
  const server = new ApolloServer<BaseContext>({
    typeDefs,
    resolvers: {
      Query: {
        books: () => {
          calls.books++;
          return [
            { title: 'The Awakening', author: 'Kate Chopin' },
            { title: 'City of Glass', author: 'Paul Auster' },
          ];
        },
        now: () => {
          calls.now++;
          return new Date().toISOString();
        },
      },
    },
    plugins: [responseCachePlugin()],
    ...options,
  } as ApolloServerOptions<BaseContext>);
  if (start) await server.start();
  return {
    server,
    calls,
    async run(query, extensions) {
      const res: GraphQLResponse = await server.executeOperation(extensions ? { query: query || undefined, extensions } : { query });
      if (res.body.kind !== 'single') throw new Error('expected a single result');
      return { data: res.body.singleResult.data, errors: res.body.singleResult.errors, age: res.http.headers.get('age') };
    },
    stop: () => server.stop(),
  };
}

/**
 * The key the response cache plugin (4.1.4, default `generateCacheKey`, no session) stores a
 * query's response under, after Apollo's `fqc:` prefix: sha256 of its key data. The tests read
 * that exact key rather than scanning the shared servers.
 */
export function fqcKey(query: string, operationName: string, variables: Record<string, unknown> = {}): string {
  return `fqc:${sha256(JSON.stringify({ source: query, operationName, variables, extra: null, sessionMode: 0 }))}`;
}
