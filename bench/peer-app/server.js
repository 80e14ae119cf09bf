'use strict';

// Boots the peer bench app (an app folder made by bench/scenarios/cache-strapi.mjs: the
// playground's config and src, this folder's config/plugins.js, node_modules -> this folder's)
// without an admin build, as the playground's server.js does.
process.env.STRAPI_TELEMETRY_DISABLED = process.env.STRAPI_TELEMETRY_DISABLED || 'true';
process.env.NODE_ENV = process.env.NODE_ENV || 'production';

const { createStrapi } = require('@strapi/strapi');

createStrapi({ appDir: process.cwd(), distDir: process.cwd() }).start();
