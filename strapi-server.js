'use strict';
// The Strapi server entry as CommonJS: `module.exports` is the plugin object itself.
module.exports = require('./dist/strapi-server.cjs').default;
