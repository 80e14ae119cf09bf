import * as React from 'react';
import { Badge, Box, Button, Field, Flex, Grid, SingleSelect, SingleSelectOption, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page } from '@strapi/strapi/admin';

import { connectionPath, useResource } from '../api/client';
import type { HealthNodeSeries, HealthView } from '../api/types';
import { ConnectionPicker, useSelectedConnection } from '../components/ConnectionPicker';
import { ErrorAlert, Loading } from '../components/Feedback';
import { LineChart } from '../components/LineChart';
import { useInterval } from '../hooks';
import { formatByteRate, formatBytes, formatCount, formatDuration, formatPercent, formatRate, formatRatio } from '../utils/format';
import { useT, type Translate } from '../utils/intl';

const charts = (node: HealthNodeSeries, t: Translate) => [
  { id: 'cpu', title: t('health.cpu', 'CPU (% of one core)'), series: [{ label: 'CPU', values: node.cpuPercent }], format: formatPercent },
  { id: 'ops', title: t('health.ops', 'Commands per second'), series: [{ label: 'ops/s', values: node.opsPerSec }], format: formatRate },
  {
    id: 'memory',
    title: t('health.memory', 'Memory'),
    series: [
      { label: t('health.used', 'used'), values: node.usedMemoryBytes },
      { label: 'RSS', values: node.rssBytes },
    ],
    format: formatBytes,
    reference: [...node.maxMemoryBytes].reverse().find((v) => v !== null) ?? null,
    referenceLabel: 'maxmemory',
  },
  {
    id: 'fragmentation',
    title: t('health.fragmentation', 'Fragmentation (RSS / used)'),
    series: [{ label: t('health.ratio', 'ratio'), values: node.fragmentation }],
    format: (v: number | null) => (v === null ? '—' : v.toFixed(2)),
  },
  {
    id: 'clients',
    title: t('health.clients', 'Clients'),
    series: [
      { label: t('health.connected', 'connected'), values: node.connectedClients },
      { label: t('health.blocked', 'blocked'), values: node.blockedClients },
    ],
    format: formatCount,
  },
  {
    id: 'network',
    title: t('health.network', 'Network'),
    series: [
      { label: t('health.in', 'in'), values: node.netInBytesPerSec },
      { label: t('health.out', 'out'), values: node.netOutBytesPerSec },
    ],
    format: formatByteRate,
  },
  {
    id: 'hit-ratio',
    title: t('health.hitRatio', 'Keyspace hit ratio'),
    series: [{ label: t('health.hits', 'hits'), values: node.hitRatio }],
    format: formatRatio,
  },
  {
    id: 'keys',
    title: t('health.evictedExpired', 'Evicted and expired keys per second'),
    series: [
      { label: t('health.evicted', 'evicted'), values: node.evictedPerSec },
      { label: t('health.expired', 'expired'), values: node.expiredPerSec },
    ],
    format: formatRate,
  },
];

/** Who sampled, and from where: shared (Redis) or this instance only. */
export const SamplerNote = ({ view }: { view: HealthView }) => {
  const t = useT();
  const instances = [...new Set(view.sampledBy)];
  return (
    <Flex gap={2} wrap="wrap" data-testid="health-source" data-source={view.source}>
      <Badge variant={view.source === 'redis' ? 'success' : 'warning'}>
        {view.source === 'redis' ? t('health.shared', 'shared') : t('health.local', 'this instance only')}
      </Badge>
      <Typography variant="pi" textColor="neutral600">
        {view.source === 'redis'
          ? t(
              'health.sharedNote',
              'Sampled every {interval} by one instance at a time ({n, plural, one {# instance} other {# instances}} so far), {points, plural, one {# point} other {# points}}',
              {
                interval: formatDuration(view.intervalMs),
                n: instances.length,
                points: view.t.length,
              },
            )
          : t('health.localNote', 'The lock connection does not answer ({error}): these are the points this instance took on its own', {
              error: view.sharedError ?? '',
            })}
      </Typography>
    </Flex>
  );
};

export const HealthPage = () => {
  const t = useT();
  const selected = useSelectedConnection();
  const health = useResource<HealthView>(selected.name ? connectionPath(selected.name, '/health') : null);
  const view = health.data && health.data.connection === selected.name ? health.data : undefined;
  useInterval(health.reload, Math.max(2000, view?.intervalMs ?? 5000), selected.name !== undefined);
  const [nodeAddress, setNodeAddress] = React.useState<string | undefined>();
  const node = view?.nodes.find((n) => n.address === nodeAddress) ?? view?.nodes[0];
  const now = view && view.t.length > 0 ? Math.max(Date.now(), view.t[view.t.length - 1]!) : Date.now();

  return (
    <Page.Main>
      <Page.Title>{t('health.title', 'Health')}</Page.Title>
      <Layouts.Header
        title={t('health.title', 'Health')}
        subtitle={t('health.subtitle', 'The last 15 minutes of each server: CPU, commands, memory, clients, network, hit ratio, evictions')}
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={health.reload} loading={health.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        <Flex gap={6} alignItems="flex-end" paddingBottom={4} wrap="wrap">
          <ConnectionPicker selected={selected} />
          {view && view.nodes.length > 1 ? (
            <Field.Root name="node" width="280px">
              <Field.Label>{t('health.node', 'Node')}</Field.Label>
              <SingleSelect value={node?.address ?? ''} onChange={(value) => setNodeAddress(String(value))}>
                {view.nodes.map((n) => (
                  <SingleSelectOption key={n.address} value={n.address}>
                    {`${n.address} (${n.role})`}
                  </SingleSelectOption>
                ))}
              </SingleSelect>
            </Field.Root>
          ) : null}
        </Flex>
        {selected.connections.error ? (
          <ErrorAlert title={t('connections.error', 'Could not load the connections')} message={selected.connections.error} />
        ) : null}
        {health.error ? <ErrorAlert title={t('health.error', 'Could not load the health series')} message={health.error} /> : null}
        {!view ? (
          health.error ? null : (
            <Loading label={t('common.loading', 'Loading')} />
          )
        ) : !view.enabled ? (
          <Typography textColor="neutral600" data-testid="health-disabled">
            {t('health.disabled', 'Health sampling is off (settings.healthSampling: false).')}
          </Typography>
        ) : (
          <>
            <Box paddingBottom={4}>
              <SamplerNote view={view} />
            </Box>
            {!node ? (
              <Typography textColor="neutral600">{t('health.noPoints', 'No sample yet: the first one is taken within one interval.')}</Typography>
            ) : (
              <Box data-testid={`health-node-${node.address}`}>
                {node.errors.some((e) => e !== null) ? (
                  <Typography variant="pi" textColor="danger600" tag="p">
                    {t('health.nodeErrors', 'No INFO at {n, plural, one {# point} other {# points}}: {error}', {
                      n: node.errors.filter((e) => e !== null).length,
                      error: [...node.errors].reverse().find((e) => e !== null) ?? '',
                    })}
                  </Typography>
                ) : null}
                <Grid.Root gap={4}>
                  {charts(node, t).map((chart) => (
                    <Grid.Item key={chart.id} col={6} s={12}>
                      <Box width="100%">
                        <LineChart
                          testId={`chart-${chart.id}`}
                          title={chart.title}
                          t={view.t}
                          series={chart.series}
                          format={chart.format}
                          windowMs={view.windowMs}
                          now={now}
                          reference={chart.reference ?? null}
                          referenceLabel={chart.referenceLabel}
                        />
                      </Box>
                    </Grid.Item>
                  ))}
                </Grid.Root>
              </Box>
            )}
          </>
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
