import { Badge, Box, Button, EmptyStateLayout, Flex, Table, Tbody, Td, Th, Thead, Tr, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page } from '@strapi/strapi/admin';

import { connectionPath, useResource } from '../api/client';
import type { SlowlogEntryView, SlowlogNodeView, SlowlogView } from '../api/types';
import { ConnectionPicker, useSelectedConnection } from '../components/ConnectionPicker';
import { ErrorAlert, Loading, Panel } from '../components/Feedback';
import { useInterval } from '../hooks';
import { formatMicros, formatTime } from '../utils/format';
import { useT, type Translate } from '../utils/intl';

const withheldText = (entry: SlowlogEntryView, t: Translate): string => {
  if (!entry.argumentsWithheld) return '';
  switch (entry.withheld) {
    case 'keys.read':
      return t('slowlog.withheldKeys', '+{n} arguments (shown with "Browse keys")', { n: entry.argumentsWithheld });
    case 'session':
      return t('slowlog.withheldSession', '+{n} arguments of a session (shown with "Read session values")', { n: entry.argumentsWithheld });
    default:
      return t('slowlog.withheldLength', '+{n} more arguments', { n: entry.argumentsWithheld });
  }
};

const threshold = (node: SlowlogNodeView, t: Translate): string => {
  if (node.slowerThanUs === null) return t('slowlog.thresholdUnknown', 'Threshold unknown (CONFIG GET is not allowed)');
  if (node.slowerThanUs < 0) return t('slowlog.off', 'The slow log is off (slowlog-log-slower-than is negative)');
  return t('slowlog.threshold', 'Logs commands slower than {threshold} (slowlog-log-slower-than), keeps the last {max} (slowlog-max-len); {n} logged now', {
    threshold: formatMicros(node.slowerThanUs),
    max: node.maxLen ?? '?',
    n: node.length ?? '?',
  });
};

const NodeSlowlog = ({ node }: { node: SlowlogNodeView }) => {
  const t = useT();
  return (
    <Box data-testid={`slowlog-node-${node.address}`}>
      <Panel
        title={
          <Flex gap={2}>
            <span>{node.address}</span>
            {node.role ? <Badge variant={node.role === 'master' ? 'primary' : 'neutral'}>{node.role}</Badge> : null}
          </Flex>
        }
      >
        {node.error ? (
          <Typography textColor="danger600">{node.error}</Typography>
        ) : (
          <>
            <Typography variant="pi" textColor="neutral600" tag="p" data-testid="slowlog-threshold" data-us={node.slowerThanUs ?? ''}>
              {threshold(node, t)}
            </Typography>
            {node.entries.length === 0 ? (
              <Box paddingTop={3}>
                <Typography textColor="neutral600">{t('slowlog.empty', 'No slow command logged')}</Typography>
              </Box>
            ) : (
              <Box paddingTop={3}>
                <Table colCount={4} rowCount={node.entries.length + 1}>
                  <Thead>
                    <Tr>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.time', 'Time')}</Typography>
                      </Th>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.duration', 'Duration')}</Typography>
                      </Th>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.command', 'Command')}</Typography>
                      </Th>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.client', 'Client')}</Typography>
                      </Th>
                    </Tr>
                  </Thead>
                  <Tbody>
                    {node.entries.map((entry) => (
                      <Tr key={entry.id} data-testid="slowlog-entry" data-id={entry.id}>
                        <Td>
                          <Typography>{formatTime(entry.time)}</Typography>
                        </Td>
                        <Td>
                          <Typography data-testid="slowlog-duration" data-us={entry.durationUs}>
                            {formatMicros(entry.durationUs)}
                          </Typography>
                        </Td>
                        <Td style={{ maxWidth: '520px' }}>
                          <Typography style={{ fontFamily: 'monospace', wordBreak: 'break-all', whiteSpace: 'normal' }} data-testid="slowlog-command">
                            {entry.command.join(' ')}
                          </Typography>
                          {entry.argumentsWithheld ? (
                            <Typography variant="pi" textColor="neutral500" tag="div" data-testid="slowlog-withheld">
                              {withheldText(entry, t)}
                            </Typography>
                          ) : null}
                        </Td>
                        <Td>
                          <Typography
                            variant="pi"
                            data-testid="slowlog-client"
                          >{`${entry.client}${entry.clientName ? ` (${entry.clientName})` : ''}`}</Typography>
                        </Td>
                      </Tr>
                    ))}
                  </Tbody>
                </Table>
              </Box>
            )}
            <Box paddingTop={4} data-testid="latency" data-enabled={node.latency.enabled}>
              <Box paddingBottom={2}>
                <Typography variant="sigma" textColor="neutral600">
                  {t('slowlog.latency', 'Latency monitor (LATENCY LATEST)')}
                </Typography>
              </Box>
              {!node.latency.enabled ? (
                <Typography variant="pi" textColor="neutral600" tag="p">
                  {t('slowlog.latencyOff', 'Off on this server: CONFIG SET latency-monitor-threshold <ms> turns it on.')}
                </Typography>
              ) : node.latency.events.length === 0 ? (
                <Typography variant="pi" textColor="neutral600" tag="p">
                  {t('slowlog.latencyNone', 'No event above {ms} ms', { ms: node.latency.thresholdMs ?? '?' })}
                </Typography>
              ) : (
                <Table colCount={4} rowCount={node.latency.events.length + 1}>
                  <Thead>
                    <Tr>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.event', 'Event')}</Typography>
                      </Th>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.time', 'Time')}</Typography>
                      </Th>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.latest', 'Latest')}</Typography>
                      </Th>
                      <Th>
                        <Typography variant="sigma">{t('slowlog.max', 'Max')}</Typography>
                      </Th>
                    </Tr>
                  </Thead>
                  <Tbody>
                    {node.latency.events.map((event) => (
                      <Tr key={event.event} data-testid="latency-event" data-event={event.event}>
                        <Td>
                          <Typography>{event.event}</Typography>
                        </Td>
                        <Td>
                          <Typography>{formatTime(event.time)}</Typography>
                        </Td>
                        <Td>
                          <Typography data-testid="latency-latest">{`${event.latestMs} ms`}</Typography>
                        </Td>
                        <Td>
                          <Typography>{`${event.maxMs} ms`}</Typography>
                        </Td>
                      </Tr>
                    ))}
                  </Tbody>
                </Table>
              )}
            </Box>
          </>
        )}
      </Panel>
    </Box>
  );
};

export const SlowlogPage = () => {
  const t = useT();
  const selected = useSelectedConnection();
  const slowlog = useResource<SlowlogView>(selected.name ? connectionPath(selected.name, '/slowlog?count=50') : null);
  useInterval(slowlog.reload, 10_000, selected.name !== undefined);
  const view = slowlog.data && slowlog.data.connection === selected.name ? slowlog.data : undefined;
  return (
    <Page.Main>
      <Page.Title>{t('slowlog.title', 'Slow log')}</Page.Title>
      <Layouts.Header
        title={t('slowlog.title', 'Slow log')}
        subtitle={t('slowlog.subtitle', 'SLOWLOG GET of each server, with the threshold in use and the latency monitor')}
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={slowlog.reload} loading={slowlog.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        <Flex gap={6} alignItems="flex-end" paddingBottom={6}>
          <ConnectionPicker selected={selected} />
          {view ? (
            <Typography variant="pi" textColor="neutral600">
              {t('server.fetchedAt', 'Fetched {time}', { time: formatTime(view.fetchedAt) })}
            </Typography>
          ) : null}
        </Flex>
        {slowlog.error ? <ErrorAlert title={t('slowlog.error', 'Could not read the slow log')} message={slowlog.error} /> : null}
        {!view ? (
          slowlog.error ? null : (
            <Loading label={t('common.loading', 'Loading')} />
          )
        ) : view.nodes.length === 0 ? (
          <EmptyStateLayout content={t('slowlog.noNodes', 'No node to ask')} />
        ) : (
          view.nodes.map((node) => <NodeSlowlog key={node.address} node={node} />)
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
