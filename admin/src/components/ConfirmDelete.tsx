import * as React from 'react';
import { Button, Dialog, Field, Flex, TextInput, Typography } from '@strapi/design-system';
import { Trash } from '@strapi/icons';

import { useT } from '../utils/intl';

/**
 * A destructive confirmation. With `typeToConfirm`, the action stays disabled until the admin
 * types that exact text (deleting by pattern asks for the pattern).
 */
export const ConfirmDelete = ({
  title,
  body,
  typeToConfirm,
  busy,
  onConfirm,
  onClose,
}: {
  title: string;
  body: React.ReactNode;
  typeToConfirm?: string;
  busy: boolean;
  onConfirm: () => void;
  onClose: () => void;
}) => {
  const t = useT();
  const [typed, setTyped] = React.useState('');
  const confirmed = typeToConfirm === undefined || typed === typeToConfirm;
  return (
    <Dialog.Root open onOpenChange={(open) => (open ? undefined : onClose())}>
      <Dialog.Content>
        <Dialog.Header>{title}</Dialog.Header>
        <Dialog.Body>
          <Flex direction="column" alignItems="stretch" gap={4} width="100%">
            <Typography tag="div">{body}</Typography>
            {typeToConfirm !== undefined ? (
              <Field.Root name="confirm" hint={t('confirm.hint', 'Type {text} to confirm', { text: typeToConfirm })}>
                <Field.Label>{t('confirm.label', 'Confirmation')}</Field.Label>
                <TextInput value={typed} onChange={(event: React.ChangeEvent<HTMLInputElement>) => setTyped(event.target.value)} autoComplete="off" />
                <Field.Hint />
              </Field.Root>
            ) : null}
          </Flex>
        </Dialog.Body>
        <Dialog.Footer>
          <Dialog.Cancel>
            <Button fullWidth variant="tertiary">
              {t('common.cancel', 'Cancel')}
            </Button>
          </Dialog.Cancel>
          <Button fullWidth variant="danger-light" startIcon={<Trash />} disabled={!confirmed || busy} loading={busy} onClick={onConfirm}>
            {t('common.delete', 'Delete')}
          </Button>
        </Dialog.Footer>
      </Dialog.Content>
    </Dialog.Root>
  );
};
