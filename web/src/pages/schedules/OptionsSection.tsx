import { NumberInput, Radio, Stack, TagsInput } from '@mantine/core';
import type { UseFormReturnType } from '@mantine/form';
import { type MessageKey, useT } from '../../i18n';
import type { EditorValues } from './EditorPage';

// Each option is a radio group; every choice says in one line what it leads to.

function Choice({ value, prefix }: { value: string; prefix: string }) {
  const t = useT();
  return (
    <Radio
      value={value}
      label={t(`${prefix}.${value}` as MessageKey)}
      description={t(`${prefix}.${value}.help` as MessageKey)}
    />
  );
}

export function OptionsSection({ form }: { form: UseFormReturnType<EditorValues> }) {
  const t = useT();
  const v = form.getValues();
  return (
    <Stack gap="lg">
      <Radio.Group label={t('schedules.options.condition')} {...form.getInputProps('condition')}>
        <Stack gap="xs" mt="xs">
          {['always', 'has_rows', 'changed'].map((c) => (
            <Choice key={c} value={c} prefix="schedules.condition" />
          ))}
        </Stack>
      </Radio.Group>
      <Radio.Group label={t('schedules.options.missed')} {...form.getInputProps('missedPolicy')}>
        <Stack gap="xs" mt="xs">
          {['latest', 'all', 'skip'].map((c) => (
            <Choice key={c} value={c} prefix="schedules.missed" />
          ))}
        </Stack>
      </Radio.Group>
      <Radio.Group label={t('schedules.options.overlap')} {...form.getInputProps('overlapPolicy')}>
        <Stack gap="xs" mt="xs">
          {['skip', 'queue_one'].map((c) => (
            <Choice key={c} value={c} prefix="schedules.overlap" />
          ))}
        </Stack>
      </Radio.Group>
      <Stack gap="xs">
        <Radio.Group
          label={t('schedules.options.emails')}
          value={v.emailOnFailure ? 'yes' : 'no'}
          onChange={(x) => form.setFieldValue('emailOnFailure', x === 'yes')}
        >
          <Stack gap="xs" mt="xs">
            <Choice value="no" prefix="schedules.emails" />
            <Choice value="yes" prefix="schedules.emails" />
          </Stack>
        </Radio.Group>
        {v.emailOnFailure ? (
          <TagsInput
            label={t('schedules.options.addresses')}
            description={t('schedules.options.addressesHelp')}
            placeholder="finance@example.com"
            splitChars={[',', ' ', ';']}
            maxTags={20}
            clearable
            {...form.getInputProps('notifyEmails')}
            ml={{ base: 0, xs: 'xl' }}
          />
        ) : null}
      </Stack>
      <Stack gap="xs">
        <Radio.Group
          label={t('schedules.options.autoPause')}
          value={v.autoPause ? 'yes' : 'no'}
          onChange={(x) => form.setFieldValue('autoPause', x === 'yes')}
        >
          <Stack gap="xs" mt="xs">
            <Choice value="yes" prefix="schedules.autoPause" />
            <Choice value="no" prefix="schedules.autoPause" />
          </Stack>
        </Radio.Group>
        {v.autoPause ? (
          <NumberInput
            label={t('schedules.options.pauseAfter')}
            min={1}
            max={100}
            allowDecimal={false}
            allowNegative={false}
            maw={260}
            {...form.getInputProps('pauseAfterFailures')}
            ml={{ base: 0, xs: 'xl' }}
          />
        ) : null}
      </Stack>
    </Stack>
  );
}
