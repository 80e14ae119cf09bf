// The Strapi server entry (`strapi-plugin-redis-suite/strapi-server`). It has only a default export, so the
// CommonJS build is `module.exports = plugin`, which is what Strapi's loader expects.
import plugin from './plugin.js';

export default plugin;
