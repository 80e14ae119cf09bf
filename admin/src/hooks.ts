import * as React from 'react';
import { useRBAC } from '@strapi/strapi/admin';

import { PERMISSIONS } from './permissions';

export interface Allowed {
  browseKeys: boolean;
  deleteKeys: boolean;
  /** Set or remove a key's TTL (`plugin::redis.keys.edit`). */
  editKeys: boolean;
  purgeCache: boolean;
  /** True until Strapi answered the permission check (actions stay hidden meanwhile). */
  loading: boolean;
}

// Stable across renders: useRBAC compares its argument and re-checks when it changes.
const CHECKED = [...PERMISSIONS.keysRead, ...PERMISSIONS.keysDelete, ...PERMISSIONS.keysEdit, ...PERMISSIONS.cachePurge];

/**
 * What the signed-in admin may do beyond reading. useRBAC names each answer after the last
 * segment of the action (`can` + `Read` / `Delete` / `Edit` / `Purge`), which is unique in this list.
 */
export function useAllowed(): Allowed {
  const { allowedActions, isLoading } = useRBAC(CHECKED);
  return React.useMemo(
    () => ({
      browseKeys: !isLoading && allowedActions.canRead === true,
      deleteKeys: !isLoading && allowedActions.canDelete === true,
      editKeys: !isLoading && allowedActions.canEdit === true,
      purgeCache: !isLoading && allowedActions.canPurge === true,
      loading: isLoading,
    }),
    [allowedActions, isLoading],
  );
}

/** Calls `fn` every `ms` while `enabled` (the page's auto refresh). */
export function useInterval(fn: () => void, ms: number, enabled: boolean): void {
  const saved = React.useRef(fn);
  saved.current = fn;
  React.useEffect(() => {
    if (!enabled) return undefined;
    const id = window.setInterval(() => saved.current(), ms);
    return () => window.clearInterval(id);
  }, [ms, enabled]);
}
