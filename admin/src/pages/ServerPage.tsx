import * as React from 'react';
import { Badge, Box, Button, Field, Flex, Grid, Switch, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page } from '@strapi/strapi/admin';

import { connectionPath, useResource } from '../api/client';
import type { ServerInfoView, ServerNodeView, ServerView } from '../api/types';
import { ConnectionPicker, useSelectedConnection } from '../components/ConnectionPicker';
import { ErrorAlert, Loading, Panel, Stat } from '../components/Feedback';
import { useInterval } from '../hooks';
import { formatBytes, formatCount, formatDuration, formatRatio, formatTime } from '../utils/format';
import { useT, type Translate } from '../utils/intl';

/** Seconds between automatic refreshes when "Auto refresh" is on. */
const AUTO_REFRESH_MS = 5000;

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

const stats = (info: ServerInfoView, t: Translate): { id: string; label: string; value: string }[] => [
  { id: 'version', label: t('server.version', 'Version'), value: `${capitalise(info.product)} ${info.version}` },
  { id: 'mode', label: t('server.mode', 'Mode'), value: info.mode },
  { id: 'role', label: t('server.role', 'Replication role'), value: info.role },
  { id: 'uptime', label: t('server.uptime', 'Uptime'), value: formatDuration(info.uptimeMs) },
  { id: 'memory-used', label: t('server.memoryUsed', 'Memory used'), value: formatBytes(info.usedMemoryBytes) },
  { id: 'memory-peak', label: t('server.memoryPeak', 'Memory peak'), value: formatBytes(info.usedMemoryPeakBytes) },
  {
    id: 'memory-max',
    label: t('server.memoryMax', 'Max memory'),
    value: info.maxMemoryBytes > 0 ? formatBytes(info.maxMemoryBytes) : t('server.unlimited', 'unlimited'),
  },
  { id: 'policy', label: t('server.policy', 'Eviction policy'), value: info.maxMemoryPolicy },
  { id: 'clients', label: t('server.clients', 'Connected clients'), value: formatCount(info.connectedClients) },
  { id: 'ops', label: t('server.ops', 'Ops/sec'), value: formatCount(info.opsPerSec) },
  { id: 'keys', label: t('server.keys', 'Keys (db 0)'), value: formatCount(info.keys) },
  { id: 'hits', label: t('server.hits', 'Keyspace hits'), value: formatCount(info.keyspaceHits) },
  { id: 'misses', label: t('server.misses', 'Keyspace misses'), value: formatCount(info.keyspaceMisses) },
  { id: 'hit-ratio', label: t('server.hitRatio', 'Hit ratio'), value: formatRatio(info.hitRatio) },
  { id: 'evicted', label: t('server.evicted', 'Evicted keys'), value: formatCount(info.evictedKeys) },
  { id: 'expired', label: t('server.expired', 'Expired keys'), value: formatCount(info.expiredKeys) },
  ...(info.connectedReplicas !== undefined
    ? [{ id: 'replicas', label: t('server.replicas', 'Connected replicas'), value: formatCount(info.connectedReplicas) }]
    : []),
  ...(info.masterAddress ? [{ id: 'master', label: t('server.master', 'Master'), value: info.masterAddress }] : []),
];

const NodePanel = ({ node }: { node: ServerNodeView }) => {
  const t = useT();
  return (
    <Box data-testid={`server-node-${node.address}`}>
      <Panel
        title={
          <Flex gap={2}>
            <span>{node.address}</span>
            {node.role ? <Badge variant={node.role === 'master' ? 'primary' : 'neutral'}>{node.role}</Badge> : null}
          </Flex>
        }
      >
        {node.info ? (
          <Grid.Root gap={5}>
            {stats(node.info, t).map((stat) => (
              <Grid.Item key={stat.id} col={2} s={4} xs={6}>
                <Stat label={stat.label} value={stat.value} testId={`stat-${stat.id}`} />
              </Grid.Item>
            ))}
          </Grid.Root>
        ) : (
          <Typography textColor="danger600">{node.error ?? t('server.noInfo', 'No INFO from this node')}</Typography>
        )}
      </Panel>
    </Box>
  );
};

export const ServerPage = () => {
  const t = useT();
  const selected = useSelectedConnection();
  const [auto, setAuto] = React.useState(true);
  const server = useResource<ServerView>(selected.name ? connectionPath(selected.name, '/server') : null);
  useInterval(server.reload, AUTO_REFRESH_MS, auto && selected.name !== undefined);
  const view = server.data && server.data.connection === selected.name ? server.data : undefined;

  return (
    <Page.Main>
      <Page.Title>{t('server.title', 'Server')}</Page.Title>
      <Layouts.Header
        title={t('server.title', 'Server')}
        subtitle={t('server.subtitle', 'INFO of each server, made readable')}
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={server.reload} loading={server.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        <Flex gap={6} alignItems="flex-end" paddingBottom={6}>
          <ConnectionPicker selected={selected} />
          <Field.Root name="auto-refresh">
            <Field.Label>{t('server.auto', 'Auto refresh (every 5 s)')}</Field.Label>
            <Switch checked={auto} onCheckedChange={(checked) => setAuto(checked)} onLabel="On" offLabel="Off" visibleLabels />
          </Field.Root>
          {view ? (
            <Typography variant="pi" textColor="neutral600" data-testid="server-fetched-at">
              {t('server.fetchedAt', 'Fetched {time}', { time: formatTime(view.fetchedAt) })}
            </Typography>
          ) : null}
        </Flex>
        {selected.connections.error ? (
          <ErrorAlert title={t('connections.error', 'Could not load the connections')} message={selected.connections.error} />
        ) : null}
        {server.error ? <ErrorAlert title={t('server.error', 'Could not read INFO')} message={server.error} /> : null}
        {view ? (
          view.nodes.map((node) => <NodePanel key={node.address} node={node} />)
        ) : server.error ? null : (
          <Loading label={t('common.loading', 'Loading')} />
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
