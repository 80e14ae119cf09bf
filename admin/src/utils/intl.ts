import * as React from 'react';
import { useIntl } from 'react-intl';

import { getTranslation } from '../pluginId';

export type Translate = (key: string, defaultMessage: string, values?: Record<string, string | number>) => string;

/** formatMessage bound to the plugin's prefix: `t('keys.title', 'Keys')`. */
export function useT(): Translate {
  const { formatMessage } = useIntl();
  return React.useCallback((key, defaultMessage, values) => formatMessage({ id: getTranslation(key), defaultMessage }, values), [formatMessage]);
}

/** Prefixes each key with the plugin id, as Strapi expects from registerTrads. */
export function prefixTranslations(messages: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(messages).map(([key, value]) => [getTranslation(key), value]));
}
