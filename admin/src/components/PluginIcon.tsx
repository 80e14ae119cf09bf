import { Database } from '@strapi/icons';

/** The menu icon. */
export const PluginIcon = () => <Database />;
