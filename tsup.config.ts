import { defineConfig, type Options } from 'tsup';

// Provided by the Strapi app's admin build (Vite bundles the plugin's `./strapi-admin` together
// with the admin): never bundled into ours, so there is one React, one router, one theme.
const ADMIN_EXTERNALS = [
  'react',
  'react-dom',
  'react-router-dom',
  'react-intl',
  'styled-components',
  '@strapi/design-system',
  '@strapi/icons',
  '@strapi/strapi',
  '@strapi/admin',
];

const server: Options = {
  // One bundle per module format: the Strapi entry (strapi-server.*) re-exports the plugin object
  // from it, so an error class or a registry is the same class whether it came through the public
  // API or through the plugin (instanceof works across both).
  entry: { index: 'src/index.ts' },
  format: ['cjs', 'esm'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  dts: true,
  // Everything in dist/ but the admin bundle, which the config below builds at the same time.
  clean: ['!admin/**'],
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  shims: false,
  // Lua scripts are `.lua` files bundled as text (src/core/script.ts loads them).
  loader: { '.lua': 'text' },
};

// The admin panel (package export `./strapi-admin`): browser code, JSX, one lazy chunk for the
// page. ESM is what Strapi's Vite build imports; CJS is there for `require.resolve`, which is how
// Strapi finds out that a plugin has an admin side.
const admin: Options = {
  entry: { index: 'admin/src/index.ts' },
  outDir: 'dist/admin',
  format: ['esm', 'cjs'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.js' : '.mjs' }),
  tsconfig: 'admin/tsconfig.json',
  dts: false,
  clean: true,
  sourcemap: true,
  target: 'es2020',
  platform: 'browser',
  splitting: true,
  shims: false,
  external: ADMIN_EXTERNALS.map((name) => new RegExp(`^${name.replace(/[/.]/g, '\\$&')}(/.*)?$`)),
  esbuildOptions(options) {
    options.jsx = 'automatic';
  },
};

export default defineConfig([server, admin]);
