'use strict';

// GRAPHQL_PLUGIN_CONFIG of the demo: Strapi's GraphQL plugin with Apollo's cache in Redis
// (persisted queries and the response cache plugin's entries, shared by every instance). As in
// README "Apollo cache and Keyv": anonymous requests only, 60 s cache hint on every field.
const path = require('node:path');
const { createRequire } = require('node:module');

// Packages resolve from the app folder (the process' cwd), where Strapi and the plugin are installed.
const appRequire = createRequire(path.join(process.cwd(), 'package.json'));
const { createApolloCache } = appRequire('strapi-plugin-redis-suite');
const { ApolloServerPluginCacheControl } = appRequire('@apollo/server/plugin/cacheControl');
const responseCachePlugin = appRequire('@apollo/server-plugin-response-cache').default;

const anonymous = ({ request }) => !request.http?.headers.get('authorization');

module.exports = {
  // Strapi's own query bounds (it warns at boot without them).
  defaultLimit: 25,
  maxLimit: 100,
  depthLimit: 10,
  apolloServer: {
    cache: createApolloCache({ connection: 'default', namespace: 'apollo' }),
    plugins: [ApolloServerPluginCacheControl({ defaultMaxAge: 60 }), responseCachePlugin({ shouldReadFromCache: anonymous, shouldWriteToCache: anonymous })],
  },
};
