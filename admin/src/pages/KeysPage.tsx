// Longer than 350 lines: the key list, the value view, the TTL edit and both deletions share one
// page's state (the selected connection, key and the admin's permissions).
import * as React from 'react';
import {
  Badge,
  Box,
  Button,
  EmptyStateLayout,
  Field,
  Flex,
  IconButton,
  SingleSelect,
  SingleSelectOption,
  Table,
  Tbody,
  Td,
  TextInput,
  Th,
  Thead,
  Tr,
  Typography,
} from '@strapi/design-system';
import { Clock, Eye, Search, Trash } from '@strapi/icons';
import { Layouts, Page, useFetchClient, useNotification } from '@strapi/strapi/admin';

import { connectionPath, errorBody, errorMessage } from '../api/client';
import type { DeleteByPatternResult, KeyPage, KeyRow, ProtectedRefusal } from '../api/types';
import { ConfirmDelete } from '../components/ConfirmDelete';
import { ConnectionPicker, useSelectedConnection } from '../components/ConnectionPicker';
import { ErrorAlert, Loading } from '../components/Feedback';
import { KeyValueModal } from '../components/KeyValueModal';
import { TtlDialog } from '../components/TtlDialog';
import { useAllowed } from '../hooks';
import { formatBytes, formatCount, formatTtl } from '../utils/format';
import { useT } from '../utils/intl';

/** SCAN COUNT per request (a hint to Redis, 1..1000 per the contract). */
const PAGE_COUNT = 200;
/** One "search" / "load more" asks again while a page came back with fewer keys than this... */
const FILL_TARGET = 50;
/** ...but at most this many requests, so a selective pattern over a big keyspace stays responsive. */
const MAX_REQUESTS_PER_LOAD = 10;

const TYPES = ['string', 'hash', 'list', 'set', 'zset', 'stream'];
/** The type filter's "no filter" value (a select option cannot have an empty value). */
const ANY_TYPE = 'any';

interface Listing {
  connection: string;
  pattern: string;
  type: string;
  keys: KeyRow[];
  /** null: the scan is complete. */
  cursor: string | null;
}

/**
 * What waits for confirmation. A pattern the server refused because it reaches the suite's own
 * keys (locks, cron history, cache generations, sessions) and names them comes back with those
 * families: the admin then confirms them by typing their prefix(es).
 */
type Pending = { kind: 'key'; key: string } | { kind: 'pattern'; pattern: string; protected?: ProtectedRefusal['protected'] };

const isRefusal = (details: unknown): details is ProtectedRefusal =>
  Array.isArray((details as ProtectedRefusal | undefined)?.protected) && (details as ProtectedRefusal).protected.length > 0;

export const KeysPage = () => {
  const t = useT();
  const allowed = useAllowed();
  const { get, del, post } = useFetchClient();
  const { toggleNotification } = useNotification();
  const selected = useSelectedConnection();
  const connection = selected.name;

  const [pattern, setPattern] = React.useState('*');
  const [type, setType] = React.useState(ANY_TYPE);
  const [listing, setListing] = React.useState<Listing | undefined>();
  const [loading, setLoading] = React.useState(false);
  const [error, setError] = React.useState<string | undefined>();
  const [viewing, setViewing] = React.useState<string | undefined>();
  const [pending, setPending] = React.useState<Pending | undefined>();
  const [deleting, setDeleting] = React.useState(false);
  const [editingTtl, setEditingTtl] = React.useState<KeyRow | undefined>();

  // Only the latest search or "load more" may change the listing (an earlier one can answer later).
  const latest = React.useRef(0);

  /** Walks the SCAN from `from` (undefined: the start) and appends to `base`. */
  const load = React.useCallback(
    async (base: Listing, from: string | undefined) => {
      const ticket = ++latest.current;
      setLoading(true);
      setError(undefined);
      try {
        let cursor: string | null | undefined = from;
        const found: KeyRow[] = [];
        for (let request = 0; request < MAX_REQUESTS_PER_LOAD; request++) {
          const query = new URLSearchParams({ pattern: base.pattern, count: String(PAGE_COUNT) });
          if (cursor) query.set('cursor', cursor);
          if (base.type !== ANY_TYPE) query.set('type', base.type);
          const response = await get<{ data: KeyPage }>(connectionPath(base.connection, `/keys?${query.toString()}`));
          if (ticket !== latest.current) return;
          found.push(...response.data.data.keys);
          cursor = response.data.data.cursor;
          if (cursor === null || found.length >= FILL_TARGET) break;
        }
        setListing({ ...base, keys: [...base.keys, ...found], cursor: cursor ?? null });
      } catch (failure) {
        if (ticket === latest.current) setError(errorMessage(failure));
      } finally {
        if (ticket === latest.current) setLoading(false);
      }
    },
    [get],
  );

  const search = React.useCallback(() => {
    if (!connection || !allowed.browseKeys) return;
    void load({ connection, pattern: pattern || '*', type, keys: [], cursor: null }, undefined);
  }, [connection, allowed.browseKeys, load, pattern, type]);

  // The search fields as typed, for the effect below (which must not re-run on every keystroke).
  const criteria = React.useRef({ pattern, type });
  criteria.current = { pattern, type };

  // First listing once the connection is known, and again when another one is picked: with the
  // fields as they are (never reset what the admin typed meanwhile).
  React.useEffect(() => {
    if (connection && allowed.browseKeys) {
      const { pattern: typed, type: chosen } = criteria.current;
      void load({ connection, pattern: typed || '*', type: chosen, keys: [], cursor: null }, undefined);
    }
  }, [connection, allowed.browseKeys, load]);

  const confirmDelete = async () => {
    if (!pending || !listing) return;
    setDeleting(true);
    try {
      if (pending.kind === 'key') {
        const query = new URLSearchParams({ key: pending.key });
        const response = await del<{ data: { deleted: number } }>(connectionPath(listing.connection, `/key?${query.toString()}`));
        setListing({ ...listing, keys: listing.keys.filter((row) => row.key !== pending.key) });
        toggleNotification({
          type: 'success',
          message: t('keys.deletedOne', 'Deleted {key} ({n})', { key: pending.key, n: response.data.data.deleted }),
        });
      } else {
        const body: Record<string, unknown> = { pattern: pending.pattern, confirm: pending.pattern };
        if (pending.protected) body.confirmProtected = pending.protected.map((family) => family.prefix);
        const response = await post<{ data: DeleteByPatternResult }>(connectionPath(listing.connection, '/keys/delete'), body);
        const result = response.data.data;
        toggleNotification(
          result.complete
            ? {
                type: 'success',
                message: t('keys.deletedPattern', 'Deleted {n, plural, one {# key} other {# keys}} matching {pattern}', {
                  n: result.deleted,
                  pattern: pending.pattern,
                }),
              }
            : {
                type: 'warning',
                message: t(
                  'keys.deletedPatternPartly',
                  'Deleted {n, plural, one {# key} other {# keys}} matching {pattern}, then the time limit ({seconds} s) ended the deletion before every key was reached: delete again to go on',
                  { n: result.deleted, pattern: pending.pattern, seconds: Math.round(result.elapsedMs / 1000) },
                ),
              },
        );
        void load({ ...listing, keys: [], cursor: null }, undefined);
      }
      setPending(undefined);
    } catch (failure) {
      const { status, details } = errorBody(failure);
      if (pending.kind === 'pattern' && !pending.protected && status === 409 && isRefusal(details) && details.protected.every((family) => family.named)) {
        // The pattern names the suite's own keys: ask once more, for them.
        setPending({ ...pending, protected: details.protected });
      } else {
        toggleNotification({ type: 'danger', message: errorMessage(failure) });
        setPending(undefined);
      }
    } finally {
      setDeleting(false);
    }
  };

  const rows = listing && listing.connection === connection ? listing.keys : [];

  return (
    <Page.Main>
      <Page.Title>{t('keys.title', 'Keys')}</Page.Title>
      <Layouts.Header
        title={t('keys.title', 'Keys')}
        subtitle={t('keys.subtitle', 'Browse keys with SCAN, view them, change their TTL, delete them')}
        primaryAction={
          allowed.deleteKeys && listing ? (
            <Button
              variant="danger-light"
              startIcon={<Trash />}
              // The pattern of the listing on screen: what is deleted is what the admin looked at.
              onClick={() => setPending({ kind: 'pattern', pattern: listing.pattern })}
            >
              {t('keys.deletePattern', 'Delete by pattern')}
            </Button>
          ) : undefined
        }
      />
      <Layouts.Content>
        {allowed.loading ? (
          <Loading label={t('common.loading', 'Loading')} />
        ) : !allowed.browseKeys ? (
          <Page.NoPermissions />
        ) : (
          <>
            {selected.connections.error ? (
              <ErrorAlert title={t('connections.error', 'Could not load the connections')} message={selected.connections.error} />
            ) : null}
            <form
              onSubmit={(event) => {
                event.preventDefault();
                search();
              }}
            >
              <Flex gap={4} alignItems="flex-end" paddingBottom={6} wrap="wrap">
                <ConnectionPicker selected={selected} />
                <Field.Root name="pattern" width="320px">
                  <Field.Label>{t('keys.pattern', 'Pattern (SCAN MATCH)')}</Field.Label>
                  <TextInput value={pattern} placeholder="*" onChange={(event: React.ChangeEvent<HTMLInputElement>) => setPattern(event.target.value)} />
                </Field.Root>
                <Field.Root name="type" width="180px">
                  <Field.Label>{t('keys.type', 'Type')}</Field.Label>
                  <SingleSelect value={type} onChange={(value) => setType(String(value))}>
                    <SingleSelectOption value={ANY_TYPE}>{t('keys.anyType', 'Any type')}</SingleSelectOption>
                    {TYPES.map((name) => (
                      <SingleSelectOption key={name} value={name}>
                        {name}
                      </SingleSelectOption>
                    ))}
                  </SingleSelect>
                </Field.Root>
                <Button type="submit" startIcon={<Search />} loading={loading} disabled={!connection}>
                  {t('keys.search', 'Search')}
                </Button>
              </Flex>
            </form>
            {error ? <ErrorAlert title={t('keys.error', 'Could not list the keys')} message={error} /> : null}
            {!listing && !error ? (
              <Loading label={t('common.loading', 'Loading')} />
            ) : rows.length === 0 && !loading ? (
              <EmptyStateLayout
                content={
                  listing?.cursor === null
                    ? t('keys.none', 'No key matches {pattern}', { pattern: listing?.pattern ?? '*' })
                    : t('keys.noneYet', 'No match in the keys scanned so far: load more to go on')
                }
              />
            ) : (
              <Table colCount={6} rowCount={rows.length + 1}>
                <Thead>
                  <Tr>
                    <Th>
                      <Typography variant="sigma">{t('keys.key', 'Key')}</Typography>
                    </Th>
                    <Th>
                      <Typography variant="sigma">{t('keys.type', 'Type')}</Typography>
                    </Th>
                    <Th>
                      <Typography variant="sigma">{t('keys.ttl', 'TTL')}</Typography>
                    </Th>
                    <Th>
                      <Typography variant="sigma">{t('keys.size', 'Size')}</Typography>
                    </Th>
                    <Th>
                      <Typography variant="sigma">{t('keys.length', 'Length')}</Typography>
                    </Th>
                    <Th>
                      <Typography variant="sigma">{t('keys.actions', 'Actions')}</Typography>
                    </Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {rows.map((row) => (
                    <Tr key={row.key} data-testid="key-row" data-key={row.key}>
                      <Td style={{ maxWidth: '420px' }}>
                        <Typography style={{ wordBreak: 'break-all' }} data-testid="key-name">
                          {row.key}
                        </Typography>
                      </Td>
                      <Td>
                        <Badge data-testid="key-type">{row.type}</Badge>
                      </Td>
                      <Td>
                        <Typography data-testid="key-ttl" data-ttl-ms={row.ttlMs}>
                          {formatTtl(row.ttlMs)}
                        </Typography>
                      </Td>
                      <Td>
                        <Typography data-testid="key-size">{formatBytes(row.size)}</Typography>
                      </Td>
                      <Td>
                        <Typography data-testid="key-length">{formatCount(row.length)}</Typography>
                      </Td>
                      <Td>
                        <Flex gap={1}>
                          <IconButton label={t('keys.view', 'View {key}', { key: row.key })} onClick={() => setViewing(row.key)}>
                            <Eye />
                          </IconButton>
                          {allowed.editKeys ? (
                            <IconButton label={t('keys.editTtl', 'Change the TTL of {key}', { key: row.key })} onClick={() => setEditingTtl(row)}>
                              <Clock />
                            </IconButton>
                          ) : null}
                          {allowed.deleteKeys ? (
                            <IconButton label={t('keys.delete', 'Delete {key}', { key: row.key })} onClick={() => setPending({ kind: 'key', key: row.key })}>
                              <Trash />
                            </IconButton>
                          ) : null}
                        </Flex>
                      </Td>
                    </Tr>
                  ))}
                </Tbody>
              </Table>
            )}
            {listing ? (
              <Flex justifyContent="space-between" paddingTop={4}>
                <Typography variant="pi" textColor="neutral600" data-testid="keys-summary">
                  {listing.cursor === null
                    ? t('keys.complete', '{n, plural, one {# key} other {# keys}} matching {pattern}, scan complete', {
                        n: rows.length,
                        pattern: listing.pattern,
                      })
                    : t('keys.partial', '{n, plural, one {# key} other {# keys}} matching {pattern} so far', { n: rows.length, pattern: listing.pattern })}
                </Typography>
                {listing.cursor !== null ? (
                  <Box>
                    <Button variant="secondary" loading={loading} onClick={() => void load(listing, listing.cursor ?? undefined)}>
                      {t('keys.loadMore', 'Load more')}
                    </Button>
                  </Box>
                ) : null}
              </Flex>
            ) : null}
          </>
        )}
      </Layouts.Content>
      {viewing && connection ? <KeyValueModal connection={connection} keyName={viewing} onClose={() => setViewing(undefined)} /> : null}
      {editingTtl && listing ? (
        <TtlDialog
          connection={listing.connection}
          keyName={editingTtl.key}
          ttlMs={editingTtl.ttlMs}
          onClose={() => setEditingTtl(undefined)}
          onDone={(ttlMs) => {
            setListing({ ...listing, keys: listing.keys.map((r) => (r.key === editingTtl.key ? { ...r, ttlMs } : r)) });
            setEditingTtl(undefined);
          }}
        />
      ) : null}
      {pending ? (
        <ConfirmDelete
          title={pending.kind === 'key' ? t('keys.confirmOne', 'Delete this key?') : t('keys.confirmPattern', 'Delete every matching key?')}
          body={
            pending.kind === 'key' ? (
              <Typography>
                {t('keys.confirmOneBody', 'The key {key} is deleted from {connection}. This cannot be undone.', {
                  key: pending.key,
                  connection: connection ?? '',
                })}
              </Typography>
            ) : pending.protected ? (
              <Typography data-testid="confirm-protected">
                {t(
                  'keys.confirmProtectedBody',
                  '{pattern} reaches keys the suite itself relies on: {families}. Deleting them can break running locks and cron guards, let stale cache entries survive a purge, or sign users out. Type the prefix to delete them anyway.',
                  {
                    pattern: pending.pattern,
                    families: pending.protected.map((family) => `${family.family} (${family.prefix})`).join(', '),
                  },
                )}
              </Typography>
            ) : (
              <Typography>
                {t('keys.confirmPatternBody', 'Every key matching {pattern} on {connection} is deleted (SCAN + UNLINK). This cannot be undone.', {
                  pattern: pending.pattern,
                  connection: connection ?? '',
                })}
              </Typography>
            )
          }
          // A fresh dialog (and typed text) for the second, protected-keys confirmation.
          key={pending.kind === 'pattern' && pending.protected ? 'protected' : 'plain'}
          typeToConfirm={
            pending.kind === 'pattern' ? (pending.protected ? pending.protected.map((family) => family.prefix).join(' ') : pending.pattern) : undefined
          }
          busy={deleting}
          onConfirm={() => void confirmDelete()}
          onClose={() => setPending(undefined)}
        />
      ) : null}
    </Page.Main>
  );
};
