/** The plugin id: `strapi.name` in package.json, the route prefix and the translation prefix. */
export const PLUGIN_ID = 'redis';

/** `redis.<key>`: how Strapi namespaces a plugin's translation keys. */
export const getTranslation = (key: string): string => `${PLUGIN_ID}.${key}`;
