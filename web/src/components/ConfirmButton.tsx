import { Button, type ButtonProps, Group, Modal, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { useT } from '../i18n';

/** A button that asks first (e.g. Delete): a dialog with the consequence and a confirm button. */
export function ConfirmButton({
  children,
  title,
  text,
  confirmLabel,
  onConfirm,
  loading,
  color = 'red',
  ...props
}: ButtonProps & {
  children: ReactNode;
  title: string;
  text?: ReactNode;
  confirmLabel?: string;
  onConfirm: () => unknown;
  loading?: boolean;
}) {
  const t = useT();
  const [opened, { open, close }] = useDisclosure(false);
  return (
    <>
      <Button color={color} variant="light" {...props} onClick={open}>
        {children}
      </Button>
      <Modal opened={opened} onClose={close} title={title} centered>
        <Text size="sm">{text ?? t('confirm.deleteText')}</Text>
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={close}>
            {t('action.cancel')}
          </Button>
          <Button
            color={color}
            loading={loading ?? false}
            onClick={async () => {
              await onConfirm();
              close();
            }}
          >
            {confirmLabel ?? t('action.confirm')}
          </Button>
        </Group>
      </Modal>
    </>
  );
}
