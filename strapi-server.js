'use strict';
// The Strapi server entry as CommonJS: `module.exports` is the plugin object itself, taken from the
// package's one bundle (so its classes are the ones the public API exports).
module.exports = require('./dist/index.cjs').strapiServer;
