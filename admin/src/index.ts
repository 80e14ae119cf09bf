/**
 * The admin side of the plugin (package export `./strapi-admin`): one menu link, "Redis", to a
 * page with its views (dashboard, connections, server, health, slow log, keys, memory, cache,
 * cron, counters). The page is loaded lazily, so the admin's first paint does not wait for it.
 */
import type { StrapiApp } from '@strapi/strapi/admin';

import { PluginIcon } from './components/PluginIcon';
import { PERMISSIONS } from './permissions';
import { getTranslation, PLUGIN_ID } from './pluginId';
import { translations } from './translations';
import { prefixTranslations } from './utils/intl';

export default {
  register(app: StrapiApp) {
    app.addMenuLink({
      to: `plugins/${PLUGIN_ID}`,
      icon: PluginIcon,
      intlLabel: { id: getTranslation('plugin.name'), defaultMessage: 'Redis' },
      Component: () => import('./pages/App'),
      permissions: PERMISSIONS.read,
    });
    app.registerPlugin({ id: PLUGIN_ID, name: 'Redis' });
  },

  bootstrap() {},

  async registerTrads({ locales }: { locales: string[] }) {
    return locales.map((locale) => ({
      locale,
      data: prefixTranslations(translations[locale] ?? {}),
    }));
  },
};
