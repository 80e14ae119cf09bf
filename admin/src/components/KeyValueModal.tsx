import { Badge, Box, Button, Flex, Loader, Modal, Table, Tbody, Td, Th, Thead, Tr, Typography } from '@strapi/design-system';

import { connectionPath, useResource } from '../api/client';
import type { KeyValue, StreamEntry } from '../api/types';
import { formatBytes, formatCount, formatTtl } from '../utils/format';
import { useT } from '../utils/intl';
import { ErrorAlert } from './Feedback';

/** How many items (list, set, hash fields, ...) one view asks for. */
const VALUE_LIMIT = 100;

const Pre = ({ children }: { children: string }) => (
  <Box background="neutral100" padding={4} hasRadius style={{ overflow: 'auto', maxHeight: '50vh' }}>
    <Typography tag="pre" variant="omega" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', fontFamily: 'monospace' }} data-testid="key-value">
      {children}
    </Typography>
  </Box>
);

const Pairs = ({ head, rows }: { head: [string, string]; rows: [string, string][] }) => (
  <Table colCount={2} rowCount={rows.length + 1}>
    <Thead>
      <Tr>
        <Th>
          <Typography variant="sigma">{head[0]}</Typography>
        </Th>
        <Th>
          <Typography variant="sigma">{head[1]}</Typography>
        </Th>
      </Tr>
    </Thead>
    <Tbody>
      {rows.map(([a, b], index) => (
        <Tr key={`${index}:${a}`}>
          <Td>
            <Typography style={{ wordBreak: 'break-all' }}>{a}</Typography>
          </Td>
          <Td>
            <Typography style={{ wordBreak: 'break-all' }}>{b}</Typography>
          </Td>
        </Tr>
      ))}
    </Tbody>
  </Table>
);

const asPairs = (value: unknown): [string, string][] =>
  Array.isArray(value) ? value.map((pair) => (Array.isArray(pair) ? [String(pair[0]), String(pair[1])] : [String(pair), ''])) : [];

const ValueBody = ({ value }: { value: KeyValue }) => {
  const t = useT();
  switch (value.type) {
    case 'string':
      return <Pre>{String(value.value ?? '')}</Pre>;
    case 'hash':
      return <Pairs head={[t('value.field', 'Field'), t('value.value', 'Value')]} rows={asPairs(value.value)} />;
    case 'zset':
      return <Pairs head={[t('value.member', 'Member'), t('value.score', 'Score')]} rows={asPairs(value.value)} />;
    case 'list':
    case 'set':
      return (
        <Pairs
          head={[value.type === 'list' ? t('value.index', 'Index') : '#', t('value.value', 'Value')]}
          rows={(Array.isArray(value.value) ? value.value : []).map((item, index) => [String(index), String(item)])}
        />
      );
    case 'stream':
      return (
        <Pairs
          head={[t('value.id', 'Entry id'), t('value.fields', 'Fields')]}
          rows={(Array.isArray(value.value) ? (value.value as StreamEntry[]) : []).map((entry) => [
            entry.id,
            entry.fields.map(([k, v]) => `${k}=${v}`).join(', '),
          ])}
        />
      );
    default:
      return <Pre>{JSON.stringify(value.value, null, 2)}</Pre>;
  }
};

/** The value of one key, fetched when the modal opens. */
export const KeyValueModal = ({ connection, keyName, onClose }: { connection: string; keyName: string; onClose: () => void }) => {
  const t = useT();
  const query = new URLSearchParams({ key: keyName, limit: String(VALUE_LIMIT) });
  const value = useResource<KeyValue>(connectionPath(connection, `/key?${query.toString()}`));
  return (
    <Modal.Root open onOpenChange={(open) => (open ? undefined : onClose())}>
      <Modal.Content>
        <Modal.Header>
          <Modal.Title>{keyName}</Modal.Title>
        </Modal.Header>
        <Modal.Body>
          {value.error ? <ErrorAlert title={t('value.error', 'Could not read the key')} message={value.error} /> : null}
          {value.data ? (
            <Flex direction="column" alignItems="stretch" gap={4}>
              <Flex gap={2} wrap="wrap">
                <Badge>{value.data.type}</Badge>
                <Badge variant="neutral">{`TTL ${formatTtl(value.data.ttlMs)}`}</Badge>
                <Badge variant="neutral">{formatBytes(value.data.size)}</Badge>
                {value.data.length !== null ? <Badge variant="neutral">{t('value.length', 'length {n}', { n: formatCount(value.data.length) })}</Badge> : null}
                {value.data.encoding === 'base64' ? <Badge variant="warning">base64</Badge> : null}
                {value.data.truncated ? (
                  <Badge variant="warning" data-testid="value-truncated">
                    {t('value.truncated', 'truncated: only the first part is shown')}
                  </Badge>
                ) : null}
              </Flex>
              {value.data.withheld === 'session' ? (
                <Box background="warning100" padding={4} hasRadius data-testid="value-withheld">
                  <Typography>
                    {t(
                      'value.withheldSession',
                      'This key holds a session. Session data is as good as the user\'s credentials, so its value is shown only to admins with the "Read session values" permission (Settings > Roles > Plugins > Redis).',
                    )}
                  </Typography>
                </Box>
              ) : (
                <ValueBody value={value.data} />
              )}
            </Flex>
          ) : value.error ? null : (
            <Flex justifyContent="center" padding={6}>
              <Loader>{t('common.loading', 'Loading')}</Loader>
            </Flex>
          )}
        </Modal.Body>
        <Modal.Footer>
          <Modal.Close>
            <Button variant="tertiary">{t('common.close', 'Close')}</Button>
          </Modal.Close>
        </Modal.Footer>
      </Modal.Content>
    </Modal.Root>
  );
};
