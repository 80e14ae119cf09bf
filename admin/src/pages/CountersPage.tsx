import { Box, Button, Grid, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page } from '@strapi/strapi/admin';

import { apiPath, useResource } from '../api/client';
import type { StatsView } from '../api/types';
import { ErrorAlert, Loading, Panel, Stat } from '../components/Feedback';
import { useInterval } from '../hooks';
import { formatCount } from '../utils/format';
import { useT, type Translate } from '../utils/intl';

type Section = { id: keyof Omit<StatsView, 'instance'>; title: string; labels: Record<string, string> };

const sections = (t: Translate): Section[] => [
  {
    id: 'cache',
    title: t('counters.cache', 'Response cache'),
    labels: {
      hits: 'Hits',
      misses: 'Misses',
      bypasses: 'Bypasses',
      stores: 'Stored',
      discarded: 'Discarded',
      coalesced: 'Coalesced',
      stale: 'Served stale',
      refreshes: 'Background refreshes',
      staleIfError: 'Served stale on error',
      purges: 'Purges',
      purgedKeys: 'Purged keys',
      errors: 'Errors',
    },
  },
  {
    id: 'rateLimit',
    title: t('counters.rateLimit', 'Rate limit'),
    labels: {
      passed: 'Passed',
      limited: 'Limited (429)',
      delayed: 'Delayed',
      storeErrors: 'Store errors',
      failedOpen: 'Failed open',
      failedClosed: 'Failed closed',
      limitedInMemory: 'Counted in memory (Redis down)',
    },
  },
  {
    id: 'cron',
    title: t('counters.cron', 'Cron guard'),
    labels: {
      runs: 'Runs',
      failures: 'Failures',
      claimedElsewhere: 'Run by another instance',
      skippedOverlap: 'Skipped (overlap)',
      skippedUnavailable: 'Skipped (no lock)',
    },
  },
  {
    id: 'sessions',
    title: t('counters.sessions', 'Sessions'),
    labels: { loaded: 'Loaded', missing: 'Missing', saved: 'Saved', destroyed: 'Destroyed', corrupt: 'Corrupt', failures: 'Failures' },
  },
  {
    id: 'apollo',
    title: t('counters.apollo', 'Apollo cache'),
    labels: { hits: 'Hits', misses: 'Misses', readErrors: 'Read errors', writes: 'Writes', writeErrors: 'Write errors' },
  },
  {
    id: 'locks',
    title: t('counters.locks', 'Locks'),
    labels: { acquired: 'Acquired', busy: 'Busy', timedOut: 'Timed out', unavailable: 'Unavailable', lost: 'Lost' },
  },
];

export const CountersPage = () => {
  const t = useT();
  const stats = useResource<StatsView>(apiPath('/stats'));
  useInterval(stats.reload, 5000, true);
  const data = stats.data;

  return (
    <Page.Main>
      <Page.Title>{t('counters.title', 'Counters')}</Page.Title>
      <Layouts.Header
        title={t('counters.title', 'Counters')}
        subtitle={
          data
            ? t('counters.subtitleOf', 'What each feature did on this instance ({instance}) since it started', { instance: data.instance })
            : t('counters.subtitle', 'What each feature did on this instance since it started')
        }
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={stats.reload} loading={stats.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        {stats.error ? <ErrorAlert title={t('counters.error', 'Could not load the counters')} message={stats.error} /> : null}
        {!data ? (
          stats.error ? null : (
            <Loading label={t('common.loading', 'Loading')} />
          )
        ) : (
          sections(t).map((section) => {
            const values = data[section.id] as Record<string, number> | null;
            return (
              <Box key={section.id} data-testid={`counters-${section.id}`}>
                <Panel title={section.title}>
                  {values ? (
                    <Grid.Root gap={5}>
                      {Object.entries(section.labels).map(([key, label]) => (
                        <Grid.Item key={key} col={2} s={4} xs={6}>
                          <Stat label={t(`counters.${section.id}.${key}`, label)} value={formatCount(values[key])} testId={`counter-${key}`} />
                        </Grid.Item>
                      ))}
                    </Grid.Root>
                  ) : (
                    <Typography textColor="neutral600">{t('counters.unused', 'Not in use in this app')}</Typography>
                  )}
                </Panel>
              </Box>
            );
          })
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
