import * as React from 'react';
import { useFetchClient } from '@strapi/strapi/admin';

import { PLUGIN_ID } from '../pluginId';

/** `/redis/...`: every admin route of the plugin lives under its id (docs/admin-api.md). */
export const apiPath = (path: string): string => `/${PLUGIN_ID}${path}`;

/** Connection names go into the path: keep them one segment. */
export const connectionPath = (name: string, rest = ''): string => apiPath(`/connections/${encodeURIComponent(name)}${rest}`);

/** The message of a failed admin request: Strapi's error body when there is one. */
export function errorMessage(error: unknown): string {
  if (error && typeof error === 'object') {
    const response = (error as { response?: { data?: { error?: { message?: unknown } } } }).response;
    const message = response?.data?.error?.message;
    if (typeof message === 'string' && message) return message;
    const own = (error as { message?: unknown }).message;
    if (typeof own === 'string' && own) return own;
  }
  return String(error);
}

/** Strapi's error body of a failed admin request (`status`, `details`), when there is one. */
export function errorBody(error: unknown): { status?: number; details?: unknown } {
  const body = (error as { response?: { data?: { error?: { status?: unknown; details?: unknown } } } } | null)?.response?.data?.error;
  return { status: typeof body?.status === 'number' ? body.status : undefined, details: body?.details };
}

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Fetch again (keeps the previous data on screen meanwhile). */
  reload: () => void;
}

/**
 * GET `path` (null: nothing to fetch yet) and unwrap Strapi's `{ data }`. Answers that come back
 * after the path changed or the component left are dropped.
 */
export function useResource<T>(path: string | null): Resource<T> {
  const { get } = useFetchClient();
  const [state, setState] = React.useState<{ data?: T; error?: string; loading: boolean }>({ loading: path !== null });
  const [generation, setGeneration] = React.useState(0);

  React.useEffect(() => {
    if (path === null) {
      setState({ loading: false });
      return undefined;
    }
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    get<{ data: T }>(path, { signal: controller.signal })
      .then((response) => {
        if (!controller.signal.aborted) setState({ data: response.data.data, loading: false });
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error: errorMessage(error), loading: false }));
      });
    return () => controller.abort();
    // `get` is a new function on every render of useFetchClient's caller; the path is what matters.
  }, [path, generation]);

  const reload = React.useCallback(() => setGeneration((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
