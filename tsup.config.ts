import { defineConfig } from 'tsup';

export default defineConfig({
  // One bundle per module format: the Strapi entry (strapi-server.*) re-exports the plugin object
  // from it, so an error class or a registry is the same class whether it came through the public
  // API or through the plugin (instanceof works across both).
  entry: { index: 'src/index.ts' },
  format: ['cjs', 'esm'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  shims: false,
});
