/**
 * Memory by key: the panel walks the keyspace page by page (each page bounded in time and keys on
 * the server), adds the pages up, and stops asking when the admin presses Stop (the request in
 * flight is dropped; the server never runs past its page's budget).
 */
import * as React from 'react';
import { Badge, Box, Button, Field, Flex, Table, Tbody, Td, TextInput, Th, Thead, Tr, Typography } from '@strapi/design-system';
import { Play, Stop } from '@strapi/icons';
import { Layouts, Page, useFetchClient } from '@strapi/strapi/admin';

import { connectionPath, errorMessage } from '../api/client';
import type { MemoryGroupView, MemoryKeyView, MemoryPage as MemoryPageView } from '../api/types';
import { ConnectionPicker, useSelectedConnection } from '../components/ConnectionPicker';
import { ErrorAlert, Loading, Panel } from '../components/Feedback';
import { useAllowed } from '../hooks';
import { formatBytes, formatCount, formatTtl } from '../utils/format';
import { useT } from '../utils/intl';

/** Keys kept in the ranking. */
const TOP = 50;
/** Each page's time budget on the server, ms. */
const BUDGET_MS = 1000;

interface Walk {
  connection: string;
  pattern: string;
  cursor: string | null;
  scanned: number;
  bytes: number;
  totalKeys: number;
  pages: number;
  top: MemoryKeyView[];
  groups: Map<string, MemoryGroupView>;
  running: boolean;
  error?: string;
}

function merge(walk: Walk, page: MemoryPageView): Walk {
  const groups = new Map(walk.groups);
  for (const group of page.groups) {
    const had = groups.get(group.prefix);
    groups.set(group.prefix, had ? { ...had, keys: had.keys + group.keys, bytes: had.bytes + group.bytes } : { ...group });
  }
  const byKey = new Map(walk.top.map((k) => [k.key, k]));
  for (const k of page.top) byKey.set(k.key, k); // SCAN may return a key twice: keep one
  return {
    ...walk,
    cursor: page.cursor,
    scanned: walk.scanned + page.scanned,
    bytes: walk.bytes + page.bytes,
    totalKeys: page.totalKeys,
    pages: walk.pages + 1,
    top: [...byKey.values()].sort((a, b) => b.bytes - a.bytes).slice(0, TOP),
    groups,
  };
}

export const MemoryPage = () => {
  const t = useT();
  const allowed = useAllowed();
  const { get } = useFetchClient();
  const selected = useSelectedConnection();
  const [pattern, setPattern] = React.useState('*');
  const [walk, setWalk] = React.useState<Walk | undefined>();
  const running = React.useRef<AbortController | null>(null);

  const stop = React.useCallback(() => {
    running.current?.abort();
    running.current = null;
    setWalk((w) => (w ? { ...w, running: false } : w));
  }, []);
  React.useEffect(() => stop, [stop]);

  const go = React.useCallback(
    async (from: Walk) => {
      running.current?.abort();
      const controller = new AbortController();
      running.current = controller;
      let current: Walk = { ...from, running: true, error: undefined };
      setWalk(current);
      try {
        do {
          const query = new URLSearchParams({ pattern: current.pattern, budgetMs: String(BUDGET_MS), top: String(TOP) });
          if (current.cursor) query.set('cursor', current.cursor);
          const response = await get<{ data: MemoryPageView }>(connectionPath(current.connection, `/memory?${query.toString()}`), {
            signal: controller.signal,
          });
          if (controller.signal.aborted) return;
          current = merge(current, response.data.data);
          setWalk(current);
        } while (current.cursor !== null && !controller.signal.aborted);
        if (!controller.signal.aborted) setWalk({ ...current, running: false });
      } catch (failure) {
        if (!controller.signal.aborted) setWalk({ ...current, running: false, error: errorMessage(failure) });
      } finally {
        if (running.current === controller) running.current = null;
      }
    },
    [get],
  );

  const start = () => {
    if (!selected.name) return;
    void go({
      connection: selected.name,
      pattern: pattern || '*',
      cursor: '0',
      scanned: 0,
      bytes: 0,
      totalKeys: 0,
      pages: 0,
      top: [],
      groups: new Map(),
      running: true,
    });
  };

  const view = walk && walk.connection === selected.name ? walk : undefined;
  const groups = view ? [...view.groups.values()].sort((a, b) => b.bytes - a.bytes) : [];
  const done = view !== undefined && view.cursor === null;

  return (
    <Page.Main>
      <Page.Title>{t('memory.title', 'Memory')}</Page.Title>
      <Layouts.Header
        title={t('memory.title', 'Memory')}
        subtitle={t('memory.subtitle', 'What uses the memory: keys ranked by MEMORY USAGE and grouped by prefix (a sampled, bounded SCAN)')}
      />
      <Layouts.Content>
        {allowed.loading ? (
          <Loading label={t('common.loading', 'Loading')} />
        ) : !allowed.browseKeys ? (
          <Page.NoPermissions />
        ) : (
          <>
            <form
              onSubmit={(event) => {
                event.preventDefault();
                start();
              }}
            >
              <Flex gap={4} alignItems="flex-end" paddingBottom={6} wrap="wrap">
                <ConnectionPicker selected={selected} />
                <Field.Root name="memory-pattern" width="320px">
                  <Field.Label>{t('memory.pattern', 'Keys (SCAN MATCH)')}</Field.Label>
                  <TextInput value={pattern} placeholder="*" onChange={(event: React.ChangeEvent<HTMLInputElement>) => setPattern(event.target.value)} />
                </Field.Root>
                {view?.running ? (
                  <Button type="button" variant="secondary" startIcon={<Stop />} onClick={stop}>
                    {t('memory.stop', 'Stop')}
                  </Button>
                ) : (
                  <>
                    <Button type="submit" startIcon={<Play />} disabled={!selected.name}>
                      {t('memory.start', 'Analyse')}
                    </Button>
                    {view && !done ? (
                      <Button type="button" variant="secondary" onClick={() => void go(view)}>
                        {t('memory.continue', 'Continue')}
                      </Button>
                    ) : null}
                  </>
                )}
              </Flex>
            </form>
            {view?.error ? <ErrorAlert title={t('memory.error', 'The analysis stopped')} message={view.error} /> : null}
            {view ? (
              <Box paddingBottom={4}>
                <Flex gap={3} alignItems="center" paddingBottom={2}>
                  <Badge variant={done ? 'success' : view.running ? 'primary' : 'neutral'} data-testid="memory-state">
                    {done ? t('memory.done', 'complete') : view.running ? t('memory.running', 'scanning') : t('memory.stopped', 'stopped')}
                  </Badge>
                  <Typography variant="pi" textColor="neutral600" data-testid="memory-summary" data-scanned={view.scanned} data-bytes={view.bytes}>
                    {t(
                      'memory.summary',
                      '{n, plural, one {# key} other {# keys}} measured ({bytes}) of {total} in the database, in {pages, plural, one {# page} other {# pages}}',
                      {
                        n: view.scanned,
                        bytes: formatBytes(view.bytes),
                        total: formatCount(view.totalKeys),
                        pages: view.pages,
                      },
                    )}
                  </Typography>
                </Flex>
              </Box>
            ) : null}
            {view && view.scanned > 0 ? (
              <>
                <Panel title={t('memory.groups', 'By prefix')}>
                  <Table colCount={5} rowCount={groups.length + 1}>
                    <Thead>
                      <Tr>
                        <Th>
                          <Typography variant="sigma">{t('memory.prefix', 'Prefix')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">{t('memory.family', 'Feature')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">{t('memory.keys', 'Keys')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">{t('memory.bytes', 'Memory')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">%</Typography>
                        </Th>
                      </Tr>
                    </Thead>
                    <Tbody>
                      {groups.slice(0, 30).map((group) => (
                        <Tr key={group.prefix} data-testid="memory-group" data-prefix={group.prefix} data-keys={group.keys} data-bytes={group.bytes}>
                          <Td style={{ maxWidth: '480px' }}>
                            <Typography style={{ fontFamily: 'monospace', wordBreak: 'break-all', whiteSpace: 'normal' }}>
                              {group.prefix === '' ? t('memory.noPrefix', '(no prefix)') : group.prefix}
                            </Typography>
                          </Td>
                          <Td>
                            {group.family ? (
                              <Badge variant="secondary">{group.family}</Badge>
                            ) : (
                              <Typography textColor="neutral500">{t('memory.app', 'the app')}</Typography>
                            )}
                          </Td>
                          <Td>
                            <Typography>{formatCount(group.keys)}</Typography>
                          </Td>
                          <Td>
                            <Typography>{formatBytes(group.bytes)}</Typography>
                          </Td>
                          <Td>
                            <Typography>{view.bytes > 0 ? `${((group.bytes / view.bytes) * 100).toFixed(1)}%` : '—'}</Typography>
                          </Td>
                        </Tr>
                      ))}
                    </Tbody>
                  </Table>
                </Panel>
                <Panel title={t('memory.top', 'Biggest keys')}>
                  <Table colCount={4} rowCount={view.top.length + 1}>
                    <Thead>
                      <Tr>
                        <Th>
                          <Typography variant="sigma">{t('keys.key', 'Key')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">{t('keys.type', 'Type')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">{t('memory.bytes', 'Memory')}</Typography>
                        </Th>
                        <Th>
                          <Typography variant="sigma">{t('keys.ttl', 'TTL')}</Typography>
                        </Th>
                      </Tr>
                    </Thead>
                    <Tbody>
                      {view.top.slice(0, 20).map((k) => (
                        <Tr key={k.key} data-testid="memory-key" data-key={k.key} data-bytes={k.bytes}>
                          <Td style={{ maxWidth: '640px' }}>
                            <Typography style={{ wordBreak: 'break-all', whiteSpace: 'normal' }}>{k.key}</Typography>
                          </Td>
                          <Td>
                            <Badge>{k.type}</Badge>
                          </Td>
                          <Td>
                            <Typography>{formatBytes(k.bytes)}</Typography>
                          </Td>
                          <Td>
                            <Typography>{formatTtl(k.ttlMs)}</Typography>
                          </Td>
                        </Tr>
                      ))}
                    </Tbody>
                  </Table>
                </Panel>
              </>
            ) : view?.running ? (
              <Loading label={t('memory.running', 'scanning')} />
            ) : null}
          </>
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
