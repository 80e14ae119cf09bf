import en from './en.json';

/** Messages per locale, keys without the plugin prefix. Missing locales fall back to the defaults in code. */
export const translations: Record<string, Record<string, string>> = { en };
