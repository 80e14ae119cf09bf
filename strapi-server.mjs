// The Strapi server entry as ESM: the plugin object from the package's one ESM bundle.
export { strapiServer as default } from './dist/index.mjs';
