import { Badge, Button, Flex, Table, Tbody, Td, Th, Thead, Tr, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page } from '@strapi/strapi/admin';

import { apiPath, useResource } from '../api/client';
import type { ConnectionView } from '../api/types';
import { ErrorAlert, Loading } from '../components/Feedback';
import { useInterval } from '../hooks';
import { formatPing, formatUnanswered } from '../utils/format';
import { useT } from '../utils/intl';

const TOPOLOGY_LABEL: Record<ConnectionView['topology'], string> = {
  standalone: 'Standalone',
  cluster: 'Cluster',
  sentinel: 'Sentinel',
};

const StateBadge = ({ ready, state }: { ready: boolean; state: string }) => (
  <Badge variant={ready ? 'success' : 'danger'} data-testid="connection-state">
    {state}
  </Badge>
);

const Nodes = ({ connection }: { connection: ConnectionView }) => {
  if (connection.nodes.length === 0) return <Typography textColor="neutral600">—</Typography>;
  return (
    <Flex direction="column" alignItems="flex-start" gap={1}>
      {connection.nodes.map((node) => (
        <Typography key={node.address} variant="pi" data-testid="connection-node">
          {`${node.address}${node.role ? ` (${node.role})` : ''} · ${node.state} · ${formatPing(node.pingMs)}`}
        </Typography>
      ))}
    </Flex>
  );
};

export const ConnectionsPage = () => {
  const t = useT();
  const connections = useResource<ConnectionView[]>(apiPath('/connections'));
  // States and pings change: refresh every 5 s while the view is open.
  useInterval(connections.reload, 5000, true);
  const list = connections.data ?? [];

  return (
    <Page.Main>
      <Page.Title>{t('connections.title', 'Connections')}</Page.Title>
      <Layouts.Header
        title={t('connections.title', 'Connections')}
        subtitle={t('connections.subtitle', 'Every named connection, its topology, state and ping, and what uses it')}
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={connections.reload} loading={connections.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        {connections.error ? <ErrorAlert title={t('connections.error', 'Could not load the connections')} message={connections.error} /> : null}
        {connections.data === undefined && !connections.error ? (
          <Loading label={t('common.loading', 'Loading')} />
        ) : (
          <Table colCount={7} rowCount={list.length + 1}>
            <Thead>
              <Tr>
                <Th>
                  <Typography variant="sigma">{t('connections.name', 'Name')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('connections.topology', 'Topology')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('connections.endpoint', 'Endpoint')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('connections.state', 'State')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('connections.ping', 'Ping')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('connections.features', 'Used by')}</Typography>
                </Th>
                <Th>
                  <Typography variant="sigma">{t('connections.nodes', 'Nodes')}</Typography>
                </Th>
              </Tr>
            </Thead>
            <Tbody>
              {list.map((connection) => (
                <Tr key={connection.name} data-testid={`connection-${connection.name}`}>
                  <Td>
                    <Typography fontWeight="bold">{connection.name}</Typography>
                  </Td>
                  <Td>
                    <Typography data-testid="connection-topology">{TOPOLOGY_LABEL[connection.topology] ?? connection.topology}</Typography>
                  </Td>
                  <Td style={{ maxWidth: '280px' }}>
                    <Typography variant="pi" data-testid="connection-endpoint" style={{ wordBreak: 'break-word', whiteSpace: 'normal' }}>
                      {/* A Cluster lists its seed nodes: let the list wrap after each comma. */}
                      {connection.endpoint.replace(/,/g, ', ')}
                    </Typography>
                  </Td>
                  <Td>
                    <Flex direction="column" alignItems="flex-start" gap={1}>
                      <StateBadge ready={connection.ready} state={connection.state} />
                      {connection.unanswered ? (
                        <Typography variant="pi" textColor="danger600" data-testid="connection-unanswered">
                          {formatUnanswered(connection.unanswered)}
                        </Typography>
                      ) : null}
                      {connection.lastError ? (
                        <Typography variant="pi" textColor="danger600">
                          {connection.lastError}
                        </Typography>
                      ) : null}
                    </Flex>
                  </Td>
                  <Td>
                    <Typography data-testid="connection-ping">{formatPing(connection.pingMs)}</Typography>
                  </Td>
                  <Td>
                    <Flex gap={1} wrap="wrap" data-testid="connection-features">
                      {connection.features.length === 0 ? (
                        <Typography textColor="neutral600">—</Typography>
                      ) : (
                        connection.features.map((feature) => (
                          <Badge key={feature} variant="secondary">
                            {feature}
                          </Badge>
                        ))
                      )}
                    </Flex>
                  </Td>
                  <Td>
                    <Nodes connection={connection} />
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
