import * as React from 'react';
import { Button, Dialog, Field, Flex, TextInput, Typography } from '@strapi/design-system';
import { Clock } from '@strapi/icons';
import { useFetchClient, useNotification } from '@strapi/strapi/admin';

import { connectionPath, errorBody, errorMessage } from '../api/client';
import type { ProtectedRefusal, TtlEditResult } from '../api/types';
import { formatTtl } from '../utils/format';
import { useT } from '../utils/intl';

const isRefusal = (details: unknown): details is ProtectedRefusal =>
  Array.isArray((details as ProtectedRefusal | undefined)?.protected) && (details as ProtectedRefusal).protected.length > 0;

/**
 * Set (seconds) or remove one key's TTL. A key of the suite's own state comes back refused (409)
 * with its family: the dialog then asks for the family's prefix to be typed, and sends it.
 */
export const TtlDialog = ({
  connection,
  keyName,
  ttlMs,
  onDone,
  onClose,
}: {
  connection: string;
  keyName: string;
  ttlMs: number;
  onDone: (ttlMs: number) => void;
  onClose: () => void;
}) => {
  const t = useT();
  const { put } = useFetchClient();
  const { toggleNotification } = useNotification();
  const [seconds, setSeconds] = React.useState(ttlMs > 0 ? String(Math.ceil(ttlMs / 1000)) : '3600');
  const [busy, setBusy] = React.useState(false);
  const [refusal, setRefusal] = React.useState<{ families: ProtectedRefusal['protected']; ttl: number | null } | undefined>();
  const [typed, setTyped] = React.useState('');
  const parsed = /^\d+$/.test(seconds) ? Number(seconds) : NaN;
  const valid = Number.isInteger(parsed) && parsed >= 1;

  const send = async (ttl: number | null, confirmProtected?: string[]) => {
    setBusy(true);
    try {
      const body: Record<string, unknown> = { key: keyName, ttlMs: ttl };
      if (confirmProtected) body.confirmProtected = confirmProtected;
      const response = await put<{ data: TtlEditResult }>(connectionPath(connection, '/key/ttl'), body);
      const result = response.data.data;
      toggleNotification({
        type: 'success',
        message:
          ttl === null
            ? result.changed
              ? t('ttl.removed', 'The TTL of {key} was removed: it no longer expires', { key: keyName })
              : t('ttl.noneToRemove', '{key} had no TTL', { key: keyName })
            : t('ttl.set', '{key} now expires in {ttl}', { key: keyName, ttl: formatTtl(result.ttlMs) }),
      });
      onDone(result.ttlMs);
    } catch (failure) {
      const { status, details } = errorBody(failure);
      if (status === 409 && isRefusal(details) && !confirmProtected) {
        setRefusal({ families: details.protected, ttl });
      } else {
        toggleNotification({ type: 'danger', message: errorMessage(failure) });
        onClose();
      }
    } finally {
      setBusy(false);
    }
  };

  const prefixes = refusal?.families.map((f) => f.prefix) ?? [];
  return (
    <Dialog.Root open onOpenChange={(open) => (open ? undefined : onClose())}>
      <Dialog.Content>
        <Dialog.Header>{t('ttl.title', 'Change the TTL')}</Dialog.Header>
        <Dialog.Body>
          <Flex direction="column" alignItems="stretch" gap={4} width="100%">
            <Typography tag="p">{t('ttl.body', '{key} on {connection}: {ttl} now.', { key: keyName, connection, ttl: formatTtl(ttlMs) })}</Typography>
            {refusal ? (
              <>
                <Typography data-testid="ttl-protected">
                  {t(
                    'ttl.protected',
                    "{key} is one of the suite's own keys: {families}. A lock or a session whose TTL is changed by hand outlives, or loses, what it guards. Type the prefix to change it anyway.",
                    {
                      key: keyName,
                      families: refusal.families.map((f) => `${f.family} (${f.prefix})`).join(', '),
                    },
                  )}
                </Typography>
                <Field.Root name="ttl-confirm" hint={t('confirm.hint', 'Type {text} to confirm', { text: prefixes.join(' ') })}>
                  <Field.Label>{t('confirm.label', 'Confirmation')}</Field.Label>
                  <TextInput value={typed} onChange={(event: React.ChangeEvent<HTMLInputElement>) => setTyped(event.target.value)} autoComplete="off" />
                  <Field.Hint />
                </Field.Root>
              </>
            ) : (
              <Field.Root name="ttl-seconds" hint={t('ttl.hint', 'From now on; PEXPIRE')}>
                <Field.Label>{t('ttl.seconds', 'Expire in (seconds)')}</Field.Label>
                <TextInput
                  value={seconds}
                  inputMode="numeric"
                  onChange={(event: React.ChangeEvent<HTMLInputElement>) => setSeconds(event.target.value.trim())}
                />
                <Field.Hint />
              </Field.Root>
            )}
          </Flex>
        </Dialog.Body>
        <Dialog.Footer>
          <Dialog.Cancel>
            <Button fullWidth variant="tertiary">
              {t('common.cancel', 'Cancel')}
            </Button>
          </Dialog.Cancel>
          {refusal ? (
            <Button
              fullWidth
              variant="danger-light"
              disabled={typed !== prefixes.join(' ') || busy}
              loading={busy}
              onClick={() => void send(refusal.ttl, prefixes)}
            >
              {t('ttl.confirmProtected', 'Change it anyway')}
            </Button>
          ) : (
            <>
              <Button fullWidth variant="secondary" disabled={busy || ttlMs < 0} onClick={() => void send(null)}>
                {t('ttl.remove', 'Remove TTL')}
              </Button>
              <Button fullWidth startIcon={<Clock />} disabled={!valid || busy} loading={busy} onClick={() => void send(parsed * 1000)}>
                {t('ttl.apply', 'Set TTL')}
              </Button>
            </>
          )}
        </Dialog.Footer>
      </Dialog.Content>
    </Dialog.Root>
  );
};
