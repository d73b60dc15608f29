import { Radio, Stack, Text, Textarea } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { useT } from '../../i18n';
import type { EditorValues } from './EditorPage';

// Bursting: one run for everyone, or one per row of a recipients query, each
// with its own parameter values and e-mailed to its own address.

export function BurstField({
  form,
  error,
  parameters,
}: {
  form: UseFormReturnType<EditorValues>;
  error: string | undefined;
  parameters: Array<{ name: string }>;
}) {
  const t = useT();
  const v = form.getValues();
  const columns = ['email', ...parameters.map((p) => p.name)].join(', ');
  return (
    <Stack gap="xs" mt="md">
      <Radio.Group
        label={t('schedules.burst.label')}
        value={v.burst ? 'yes' : 'no'}
        onChange={(x) => form.setFieldValue('burst', x === 'yes')}
      >
        <Stack gap="xs" mt="xs">
          <Radio value="no" label={t('schedules.burst.no')} description={t('schedules.burst.no.help')} />
          <Radio value="yes" label={t('schedules.burst.yes')} description={t('schedules.burst.yes.help')} />
        </Stack>
      </Radio.Group>
      {v.burst ? (
        <Stack gap={4} ml={{ base: 0, xs: 'xl' }}>
          <Textarea
            label={t('schedules.burst.sql')}
            description={t('schedules.burst.sqlHelp', { columns })}
            placeholder={`SELECT email, ${parameters[0]?.name ?? 'region'} FROM account_managers`}
            autosize
            minRows={3}
            maxRows={12}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            {...form.getInputProps('recipientsSql')}
            error={error}
          />
          <Text size="xs" c="dimmed">
            {t('schedules.burst.note')}
          </Text>
        </Stack>
      ) : null}
    </Stack>
  );
}
