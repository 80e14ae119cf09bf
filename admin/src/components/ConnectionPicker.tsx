import * as React from 'react';
import { Field, SingleSelect, SingleSelectOption } from '@strapi/design-system';
import { useSearchParams } from 'react-router-dom';

import { apiPath, useResource, type Resource } from '../api/client';
import type { ConnectionView } from '../api/types';
import { useT } from '../utils/intl';

export interface SelectedConnection {
  connections: Resource<ConnectionView[]>;
  /** The chosen name (`?connection=`), else the first connection; undefined until loaded. */
  name: string | undefined;
  select: (name: string) => void;
}

/** The connection a view works on, kept in the URL so a view can be linked and reloaded. */
export function useSelectedConnection(): SelectedConnection {
  const connections = useResource<ConnectionView[]>(apiPath('/connections'));
  const [params, setParams] = useSearchParams();
  const asked = params.get('connection');
  const list = connections.data ?? [];
  const name = asked && list.some((conn) => conn.name === asked) ? asked : list[0]?.name;
  const select = React.useCallback(
    (next: string) =>
      setParams((current) => {
        const copy = new URLSearchParams(current);
        copy.set('connection', next);
        return copy;
      }),
    [setParams],
  );
  return { connections, name, select };
}

export const ConnectionPicker = ({ selected }: { selected: SelectedConnection }) => {
  const t = useT();
  const list = selected.connections.data ?? [];
  return (
    <Field.Root name="connection" width="240px">
      <Field.Label>{t('common.connection', 'Connection')}</Field.Label>
      <SingleSelect
        value={selected.name ?? ''}
        onChange={(value) => selected.select(String(value))}
        disabled={list.length === 0}
        placeholder={t('common.connection.none', 'No connection')}
      >
        {list.map((connection) => (
          <SingleSelectOption key={connection.name} value={connection.name}>
            {`${connection.name} (${connection.topology})`}
          </SingleSelectOption>
        ))}
      </SingleSelect>
    </Field.Root>
  );
};
