import { Badge, Button, EmptyStateLayout, Flex, Table, Tbody, Td, Th, Thead, Tr, Typography } from '@strapi/design-system';
import { ArrowClockwise } from '@strapi/icons';
import { Layouts, Page } from '@strapi/strapi/admin';

import { apiPath, useResource } from '../api/client';
import type { CronTaskView, CronView } from '../api/types';
import { ErrorAlert, Loading } from '../components/Feedback';
import { useInterval } from '../hooks';
import { formatDuration, formatTime } from '../utils/format';
import { useT, type Translate } from '../utils/intl';

const Result = ({ task, t }: { task: CronTaskView; t: Translate }) => {
  if (task.running) return <Badge variant="primary">{t('cron.running', 'running')}</Badge>;
  const last = task.lastRun;
  if (!last) return <Typography textColor="neutral600">{t('cron.never', 'not run yet')}</Typography>;
  if (last.ok === undefined) return <Badge variant="neutral">{t('cron.unknown', 'unknown')}</Badge>;
  return (
    <Flex direction="column" alignItems="flex-start" gap={1}>
      <Badge variant={last.ok ? 'success' : 'danger'} data-testid="cron-result">
        {last.ok ? t('cron.ok', 'ok') : t('cron.failed', 'failed')}
      </Badge>
      {last.error ? (
        <Typography variant="pi" textColor="danger600">
          {last.error}
        </Typography>
      ) : null}
    </Flex>
  );
};

export const CronPage = () => {
  const t = useT();
  const cron = useResource<CronView>(apiPath('/cron'));
  useInterval(cron.reload, 5000, true);
  const data = cron.data;

  return (
    <Page.Main>
      <Page.Title>{t('cron.title', 'Cron')}</Page.Title>
      <Layouts.Header
        title={t('cron.title', 'Cron')}
        subtitle={t('cron.subtitle', 'Cron tasks and their last run')}
        primaryAction={
          <Button variant="secondary" startIcon={<ArrowClockwise />} onClick={cron.reload} loading={cron.loading}>
            {t('common.refresh', 'Refresh')}
          </Button>
        }
      />
      <Layouts.Content>
        {cron.error ? <ErrorAlert title={t('cron.error', 'Could not load the cron tasks')} message={cron.error} /> : null}
        {data?.historyError ? (
          <ErrorAlert title={t('cron.historyError', 'The shared run history could not be read: runs of this instance only')} message={data.historyError} />
        ) : null}
        {!data ? (
          cron.error ? null : (
            <Loading label={t('common.loading', 'Loading')} />
          )
        ) : data.tasks.length === 0 ? (
          <EmptyStateLayout content={t('cron.empty', 'No cron tasks (server.cron.tasks or strapi.cron.add)')} />
        ) : (
          <>
            {!data.enabled ? (
              <Typography variant="pi" textColor="neutral600" tag="p" style={{ marginBottom: 16 }}>
                {t('cron.unguarded', 'The cron guard is off (settings.enableRedlock): tasks run on every instance.')}
              </Typography>
            ) : null}
            <Table colCount={6} rowCount={data.tasks.length + 1}>
              <Thead>
                <Tr>
                  <Th>
                    <Typography variant="sigma">{t('cron.task', 'Task')}</Typography>
                  </Th>
                  <Th>
                    <Typography variant="sigma">{t('cron.guard', 'Guard')}</Typography>
                  </Th>
                  <Th>
                    <Typography variant="sigma">{t('cron.lastRun', 'Last run')}</Typography>
                  </Th>
                  <Th>
                    <Typography variant="sigma">{t('cron.duration', 'Duration')}</Typography>
                  </Th>
                  <Th>
                    <Typography variant="sigma">{t('cron.instance', 'Instance')}</Typography>
                  </Th>
                  <Th>
                    <Typography variant="sigma">{t('cron.result', 'Result')}</Typography>
                  </Th>
                </Tr>
              </Thead>
              <Tbody>
                {data.tasks.map((task) => (
                  <Tr key={task.name} data-testid="cron-task" data-task={task.name}>
                    <Td>
                      <Typography fontWeight="semiBold">{task.name}</Typography>
                    </Td>
                    <Td>
                      <Typography>
                        {!data.enabled || task.bypassRedlock
                          ? t('cron.unguardedShort', 'none (every instance)')
                          : task.allowOverlap
                            ? t('cron.once', 'once per tick, overlap allowed')
                            : t('cron.onceNoOverlap', 'once per tick')}
                      </Typography>
                    </Td>
                    <Td>
                      <Typography data-testid="cron-last-run">{formatTime(task.lastRun?.startedAt)}</Typography>
                    </Td>
                    <Td>
                      <Typography>{formatDuration(task.lastRun?.durationMs)}</Typography>
                    </Td>
                    <Td>
                      <Typography variant="pi" data-testid="cron-instance">
                        {task.lastRun?.instance ?? '—'}
                      </Typography>
                    </Td>
                    <Td>
                      <Result task={task} t={t} />
                    </Td>
                  </Tr>
                ))}
              </Tbody>
            </Table>
          </>
        )}
      </Layouts.Content>
    </Page.Main>
  );
};
