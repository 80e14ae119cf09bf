/**
 * The landing view: "is Redis healthy, and is the suite working?". One card per connection with
 * its state, memory and ops sparklines (the shared health series), and the features that use it
 * with this instance's counters of each.
 */
import * as React from 'react';
import { Badge, Box, Button, Flex, Grid, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page, useFetchClient } from '@strapi/strapi/admin';

import { apiPath, connectionPath, errorMessage, useResource } from '../api/client';
import type { ConnectionView, Feature, HealthView, StatsView } from '../api/types';
import { ErrorAlert, Loading } from '../components/Feedback';
import { Sparkline, sumSeries } from '../components/LineChart';
import { useInterval } from '../hooks';
import { formatBytes, formatCount, formatPing, formatRate, formatRatio, formatUnanswered } from '../utils/format';
import { useT, type Translate } from '../utils/intl';

const TOPOLOGY_LABEL: Record<ConnectionView['topology'], string> = { standalone: 'Standalone', cluster: 'Cluster', sentinel: 'Sentinel' };

/** The latest non-null value. */
const latest = (values: (number | null)[]): number | null => {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i]!;
  return null;
};

/** One feature's counters on this instance, as "label value" pairs. */
function featureCounters(feature: Feature, stats: StatsView | undefined, t: Translate): { label: string; value: string; id: string }[] {
  if (!stats) return [];
  switch (feature) {
    case 'cache': {
      const c = stats.cache;
      if (!c) return [];
      return [
        { id: 'hit-ratio', label: t('dashboard.cache.hitRatio', 'hit ratio'), value: formatRatio(c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : null) },
        { id: 'hits', label: t('dashboard.cache.hits', 'hits'), value: formatCount(c.hits) },
        { id: 'misses', label: t('dashboard.cache.misses', 'misses'), value: formatCount(c.misses) },
        { id: 'errors', label: t('dashboard.errors', 'errors'), value: formatCount(c.errors) },
      ];
    }
    case 'rateLimit':
      return [
        { id: 'passed', label: t('dashboard.rateLimit.passed', 'passed'), value: formatCount(stats.rateLimit.passed) },
        { id: 'limited', label: t('dashboard.rateLimit.limited', 'limited'), value: formatCount(stats.rateLimit.limited) },
        { id: 'store-errors', label: t('dashboard.rateLimit.storeErrors', 'store errors'), value: formatCount(stats.rateLimit.storeErrors) },
      ];
    case 'cron':
      return stats.cron
        ? [
            { id: 'runs', label: t('dashboard.cron.runs', 'runs'), value: formatCount(stats.cron.runs) },
            { id: 'failures', label: t('dashboard.cron.failures', 'failures'), value: formatCount(stats.cron.failures) },
            { id: 'skipped', label: t('dashboard.cron.skipped', 'skipped (no lock)'), value: formatCount(stats.cron.skippedUnavailable) },
          ]
        : [];
    case 'session':
      return [
        { id: 'loaded', label: t('dashboard.session.loaded', 'loaded'), value: formatCount(stats.sessions.loaded) },
        { id: 'saved', label: t('dashboard.session.saved', 'saved'), value: formatCount(stats.sessions.saved) },
        { id: 'failures', label: t('dashboard.session.failures', 'failures'), value: formatCount(stats.sessions.failures) },
      ];
    case 'locks':
      return stats.locks
        ? [
            { id: 'acquired', label: t('dashboard.locks.acquired', 'acquired'), value: formatCount(stats.locks.acquired) },
            { id: 'busy', label: t('dashboard.locks.busy', 'busy'), value: formatCount(stats.locks.busy) },
            { id: 'lost', label: t('dashboard.locks.lost', 'lost'), value: formatCount(stats.locks.lost) },
          ]
        : [];
    default:
      return [];
  }
}

const ConnectionCard = ({ connection, health, stats }: { connection: ConnectionView; health: HealthView | undefined; stats: StatsView | undefined }) => {
  const t = useT();
  const n = health?.t.length ?? 0;
  const masters = health?.nodes.filter((node) => node.role === 'master') ?? [];
  // A Cluster's memory is its masters' (replicas hold copies); its traffic is every node's.
  const memory = sumSeries(
    masters.map((node) => node.usedMemoryBytes),
    n,
  );
  const maxMemory = sumSeries(
    masters.map((node) => node.maxMemoryBytes),
    n,
  );
  const ops = sumSeries(
    (health?.nodes ?? []).map((node) => node.opsPerSec),
    n,
  );
  const limit = latest(maxMemory);
  const now = health && n > 0 ? Math.max(Date.now(), health.t[n - 1]!) : Date.now();
  const windowMs = health?.windowMs ?? 15 * 60_000;
  return (
    <Box background="neutral0" hasRadius shadow="tableShadow" padding={5} height="100%" data-testid={`connection-${connection.name}`}>
      <Flex justifyContent="space-between" alignItems="flex-start" paddingBottom={3}>
        <Flex direction="column" alignItems="flex-start" gap={1}>
          <Typography variant="delta" tag="h2">
            {connection.name}
          </Typography>
          <Typography variant="pi" textColor="neutral600">
            {`${TOPOLOGY_LABEL[connection.topology] ?? connection.topology} · ${connection.nodes.length} ${connection.nodes.length === 1 ? 'node' : 'nodes'} · ping ${formatPing(connection.pingMs)}`}
          </Typography>
        </Flex>
        <Badge variant={connection.ready ? 'success' : 'danger'} data-testid="connection-state">
          {connection.state}
        </Badge>
      </Flex>
      {connection.unanswered ? (
        <Typography variant="pi" textColor="danger600" tag="p" data-testid="connection-unanswered">
          {formatUnanswered(connection.unanswered)}
        </Typography>
      ) : null}
      {connection.lastError ? (
        <Typography variant="pi" textColor="danger600" tag="p">
          {connection.lastError}
        </Typography>
      ) : null}
      <Grid.Root gap={4}>
        <Grid.Item col={6} s={12}>
          <Box width="100%">
            <Flex justifyContent="space-between">
              <Typography variant="sigma" textColor="neutral600">
                {t('dashboard.memory', 'Memory')}
              </Typography>
              <Typography variant="pi" fontWeight="semiBold" data-testid="card-memory" data-value={latest(memory) ?? ''}>
                {`${formatBytes(latest(memory))}${limit ? ` / ${formatBytes(limit)}` : ''}`}
              </Typography>
            </Flex>
            <Sparkline
              t={health?.t ?? []}
              values={memory}
              windowMs={windowMs}
              now={now}
              reference={limit}
              label={t('dashboard.memory', 'Memory')}
              testId="spark-memory"
            />
          </Box>
        </Grid.Item>
        <Grid.Item col={6} s={12}>
          <Box width="100%">
            <Flex justifyContent="space-between">
              <Typography variant="sigma" textColor="neutral600">
                {t('dashboard.ops', 'Ops/sec')}
              </Typography>
              <Typography variant="pi" fontWeight="semiBold" data-testid="card-ops" data-value={latest(ops) ?? ''}>
                {formatRate(latest(ops))}
              </Typography>
            </Flex>
            <Sparkline t={health?.t ?? []} values={ops} windowMs={windowMs} now={now} label={t('dashboard.ops', 'Ops/sec')} testId="spark-ops" />
          </Box>
        </Grid.Item>
      </Grid.Root>
      <Box paddingTop={4}>
        <Typography variant="sigma" textColor="neutral600">
          {t('dashboard.features', 'Used by (counters of this instance)')}
        </Typography>
        <Flex direction="column" alignItems="stretch" gap={2} paddingTop={2} data-testid="connection-features">
          {connection.features.length === 0 ? (
            <Typography textColor="neutral600">{t('dashboard.noFeature', 'No feature of the suite uses it')}</Typography>
          ) : (
            connection.features.map((feature) => (
              <Flex key={feature} gap={3} wrap="wrap" data-testid={`feature-${feature}`}>
                <Badge variant="secondary">{feature}</Badge>
                {featureCounters(feature, stats, t).map((counter) => (
                  <Typography key={counter.id} variant="pi" data-testid={`feature-${feature}-${counter.id}`} data-value={counter.value}>
                    {`${counter.label} `}
                    <strong>{counter.value}</strong>
                  </Typography>
                ))}
              </Flex>
            ))
          )}
        </Flex>
      </Box>
      {health && health.enabled && n === 0 ? (
        <Typography variant="pi" textColor="neutral500" tag="p">
          {t('dashboard.noSample', 'No health sample yet')}
        </Typography>
      ) : null}
    </Box>
  );
};

export const DashboardPage = () => {
  const t = useT();
  const { get } = useFetchClient();
  const connections = useResource<ConnectionView[]>(apiPath('/connections'));
  const stats = useResource<StatsView>(apiPath('/stats'));
  const [health, setHealth] = React.useState<Record<string, HealthView>>({});
  const [healthError, setHealthError] = React.useState<string | undefined>();
  const names = (connections.data ?? []).map((conn) => conn.name).join('\n');

  const loadHealth = React.useCallback(() => {
    const list = names ? names.split('\n') : [];
    void Promise.all(
      list.map((name) =>
        get<{ data: HealthView }>(connectionPath(name, '/health')).then(
          (response) => [name, response.data.data] as const,
          (error: unknown) => {
            setHealthError(errorMessage(error));
            return undefined;
          },
        ),
      ),
    ).then((results) => {
      const next: Record<string, HealthView> = {};
      for (const r of results) if (r) next[r[0]] = r[1];
      setHealth((previous) => ({ ...previous, ...next }));
      if (results.every((r) => r !== undefined)) setHealthError(undefined);
    });
  }, [names]);

  React.useEffect(() => loadHealth(), [loadHealth]);
  const refresh = React.useCallback(() => {
    connections.reload();
    stats.reload();
    loadHealth();
  }, [connections, stats, loadHealth]);
  useInterval(refresh, 5000, true);
  const list = connections.data ?? [];
  const ready = list.filter((conn) => conn.ready).length;
  const anyHealth = Object.values(health)[0];

  return (
    <Page.Main>
      <Page.Title>{t('dashboard.title', 'Dashboard')}</Page.Title>
      <Layouts.Header
        title={t('dashboard.title', 'Dashboard')}
        subtitle={t('dashboard.subtitle', 'Is Redis healthy, and is the suite working?')}
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={refresh} loading={connections.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        {connections.error ? <ErrorAlert title={t('connections.error', 'Could not load the connections')} message={connections.error} /> : null}
        {healthError ? <ErrorAlert title={t('health.error', 'Could not load the health series')} message={healthError} /> : null}
        {connections.data === undefined && !connections.error ? (
          <Loading label={t('common.loading', 'Loading')} />
        ) : (
          <>
            <Flex gap={4} paddingBottom={4} wrap="wrap">
              <Badge variant={ready === list.length ? 'success' : 'danger'} data-testid="dashboard-ready">
                {t('dashboard.ready', '{ready} of {total} connections ready', { ready, total: list.length })}
              </Badge>
              {anyHealth?.sampler ? (
                <Typography variant="pi" textColor="neutral600" data-testid="dashboard-sampler">
                  {anyHealth.sampler.mode === 'shared'
                    ? t('dashboard.samplerShared', 'Health sampled every {s} s across every instance', { s: anyHealth.intervalMs / 1000 })
                    : t('dashboard.samplerLocal', 'Health sampled on this instance only: the lock connection does not answer')}
                </Typography>
              ) : anyHealth && !anyHealth.enabled ? (
                <Typography variant="pi" textColor="neutral600">
                  {t('health.disabled', 'Health sampling is off (settings.healthSampling: false).')}
                </Typography>
              ) : null}
              {stats.data ? (
                <Typography variant="pi" textColor="neutral600">
                  {t('dashboard.instance', 'Counters of {instance}', { instance: stats.data.instance })}
                </Typography>
              ) : null}
            </Flex>
            <Grid.Root gap={4}>
              {list.map((connection) => (
                <Grid.Item key={connection.name} col={6} s={12} alignItems="stretch">
                  <Box width="100%">
                    <ConnectionCard connection={connection} health={health[connection.name]} stats={stats.data} />
                  </Box>
                </Grid.Item>
              ))}
            </Grid.Root>
          </>
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
