'use strict';

const path = require('node:path');

const DEFAULT_MIDDLEWARES = [
  'strapi::logger',
  'strapi::errors',
  'strapi::security',
  'strapi::cors',
  'strapi::poweredBy',
  'strapi::query',
  'strapi::body',
  'strapi::session',
  'strapi::favicon',
  'strapi::public',
];

// MIDDLEWARES_CONFIG: path to a module exporting the whole middleware list (an array, or a
// function `(defaults) => array`), so tests can add `plugin::redis.*` middlewares.
module.exports = () => {
  const file = process.env.MIDDLEWARES_CONFIG;
  if (!file) return DEFAULT_MIDDLEWARES;
  const mod = require(path.resolve(file));
  const exported = mod && mod.__esModule ? mod.default : mod;
  return typeof exported === 'function' ? exported([...DEFAULT_MIDDLEWARES]) : exported;
};
