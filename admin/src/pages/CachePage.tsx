import * as React from 'react';
import { Button, EmptyStateLayout, Flex, Table, Tbody, Td, Th, Thead, Tr, Typography } from '@strapi/design-system';
import { ArrowClockwise, Trash } from '@strapi/icons';
import { Layouts, Page, useFetchClient, useNotification } from '@strapi/strapi/admin';

import { apiPath, errorMessage, useResource } from '../api/client';
import type { CacheView } from '../api/types';
import { ConfirmDelete } from '../components/ConfirmDelete';
import { ErrorAlert, Loading } from '../components/Feedback';
import { useAllowed } from '../hooks';
import { formatCount } from '../utils/format';
import { useT } from '../utils/intl';

type Purge = { tag: string } | { all: true };

export const CachePage = () => {
  const t = useT();
  const allowed = useAllowed();
  const { post } = useFetchClient();
  const { toggleNotification } = useNotification();
  const cache = useResource<CacheView>(apiPath('/cache'));
  const [pending, setPending] = React.useState<Purge | undefined>();
  const [busy, setBusy] = React.useState(false);

  const purge = async () => {
    if (!pending) return;
    setBusy(true);
    try {
      const response = await post<{ data: { purged: number } }>(apiPath('/cache/purge'), pending);
      toggleNotification({
        type: 'success',
        message: t('cache.purged', 'Purged {n, plural, one {# entry} other {# entries}}', { n: response.data.data.purged }),
      });
      setPending(undefined);
      cache.reload();
    } catch (failure) {
      toggleNotification({ type: 'danger', message: errorMessage(failure) });
    } finally {
      setBusy(false);
    }
  };

  const data = cache.data;
  return (
    <Page.Main>
      <Page.Title>{t('cache.title', 'Cache')}</Page.Title>
      <Layouts.Header
        title={t('cache.title', 'Cache')}
        subtitle={
          data?.enabled && data.connection
            ? t('cache.subtitleOn', 'Response cache on connection {connection}: tags and their entries', { connection: data.connection })
            : t('cache.subtitle', 'Response cache tags and their entries')
        }
        primaryAction={
          <Flex gap={2}>
            <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={cache.reload} loading={cache.loading}>
              {t('common.refresh', 'Refresh')}
            </Button>
            {allowed.purgeCache && data?.enabled ? (
              <Button variant="danger-light" startIcon={<Trash />} onClick={() => setPending({ all: true })}>
                {t('cache.purgeAll', 'Purge all')}
              </Button>
            ) : null}
          </Flex>
        }
      />
      <Layouts.Content>
        {cache.error ? <ErrorAlert title={t('cache.error', 'Could not load the cache tags')} message={cache.error} /> : null}
        {!data ? (
          cache.error ? null : (
            <Loading label={t('common.loading', 'Loading')} />
          )
        ) : !data.enabled ? (
          <EmptyStateLayout
            content={t('cache.disabled', 'The response cache is not enabled: add plugin::redis.cache to config/middlewares (see docs/cache.md).')}
          />
        ) : data.tags.length === 0 ? (
          <EmptyStateLayout content={t('cache.empty', 'No cached entries yet')} />
        ) : (
          <Table colCount={3} rowCount={data.tags.length + 1}>
            <Thead>
              <Tr>
                <Th>
                  <Typography variant="sigma">{t('cache.tag', 'Tag')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('cache.entries', 'Entries')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('cache.actions', 'Actions')}</Typography>
                </Th>
              </Tr>
            </Thead>
            <Tbody>
              {data.tags.map((row) => (
                <Tr key={row.tag} data-testid="cache-tag" data-tag={row.tag}>
                  <Td>
                    <Typography fontWeight="semiBold">{row.tag}</Typography>
                  </Td>
                  <Td>
                    <Typography data-testid="cache-entries">{formatCount(row.entries)}</Typography>
                  </Td>
                  <Td>
                    {allowed.purgeCache ? (
                      <Button variant="danger-light" size="S" startIcon={<Trash />} onClick={() => setPending({ tag: row.tag })}>
                        {t('cache.purge', 'Purge')}
                      </Button>
                    ) : (
                      <Typography textColor="neutral500">—</Typography>
                    )}
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </Layouts.Content>
      {pending ? (
        <ConfirmDelete
          title={'tag' in pending ? t('cache.confirmTag', 'Purge tag {tag}?', { tag: pending.tag }) : t('cache.confirmAll', 'Purge the whole cache?')}
          body={
            'tag' in pending
              ? t('cache.confirmTagBody', 'Every cached response tagged {tag} is removed; the next request fills it again.', { tag: pending.tag })
              : t('cache.confirmAllBody', 'Every cached response is removed; the next requests fill the cache again.')
          }
          busy={busy}
          onConfirm={() => void purge()}
          onClose={() => setPending(undefined)}
        />
      ) : null}
    </Page.Main>
  );
};
