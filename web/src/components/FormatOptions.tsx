import {
  Fieldset,
  NumberInput,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, type ResponseOf, unwrap } from '../api/client';
import { type MessageKey, useT } from '../i18n';
import { ErrorAlert, SectionLoader } from './states';

// A format picker with only that format's options, compression and the file-name
// template with a live example. What each format takes comes from the server's
// format registry (GET /api/v1/formats); the example is rendered by the run's
// own code (POST /api/v1/formats/file-name).

export type FormatsInfo = ResponseOf<'/api/v1/formats', 'get'>;
type OptionInfo = FormatsInfo['common'][number];

export const FORMATS_KEY = ['formats'] as const;

/** The formats and their options; fetched once per session. */
export function useFormats() {
  return useQuery({
    queryKey: FORMATS_KEY,
    queryFn: () => unwrap(api.GET('/api/v1/formats')),
    staleTime: Number.POSITIVE_INFINITY,
  });
}

/** Keeps the options the new format takes (and the common ones), dropping the rest. */
export function optionsForFormat(
  info: FormatsInfo,
  format: string,
  options: Record<string, unknown>,
): Record<string, unknown> {
  const own = info.formats.find((f) => f.format === format)?.options ?? [];
  const names = new Set([...own, ...info.common].map((o) => o.name));
  return Object.fromEntries(Object.entries(options).filter(([k]) => names.has(k)));
}

function errorFor(errors: Record<string, string> | undefined, name: string): string | undefined {
  return errors?.[`formatOptions.${name}`] ?? errors?.[name];
}

/** A structured option (an accounting mapping, a field list) typed as JSON; kept as typed until it parses. */
function JsonOptionField(props: {
  label: string;
  description: string;
  value: unknown;
  placeholder: string | undefined;
  onChange(value: unknown): void;
  error: string | undefined;
  name: string;
}) {
  const t = useT();
  const [text, setText] = useState(() =>
    props.value === undefined ? '' : JSON.stringify(props.value, null, 2),
  );
  const [parseError, setParseError] = useState<string | null>(null);
  return (
    <Textarea
      label={props.label}
      description={props.description}
      value={text}
      placeholder={props.placeholder}
      autosize
      minRows={2}
      maxRows={12}
      onChange={(e) => {
        const next = e.currentTarget.value;
        setText(next);
        if (next.trim() === '') {
          setParseError(null);
          props.onChange(undefined);
          return;
        }
        try {
          props.onChange(JSON.parse(next));
          setParseError(null);
        } catch {
          setParseError(t('reports.format.jsonInvalid'));
        }
      }}
      error={parseError ?? props.error}
      data-option={props.name}
      styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
    />
  );
}

function OptionField({
  option,
  value,
  onChange,
  error,
}: {
  option: OptionInfo;
  value: unknown;
  onChange(value: unknown): void;
  error: string | undefined;
}) {
  const t = useT();
  const key = `reports.format.opt.${option.name}` as MessageKey;
  const label = t(key) === key ? option.name : t(key);
  const helpKey = `${key}.help` as MessageKey;
  const help = t(helpKey) === helpKey ? option.description : t(helpKey);
  const shownDefault =
    option.default === undefined
      ? null
      : option.default === ''
        ? t('reports.format.defaultEmpty')
        : typeof option.default === 'boolean'
          ? null
          : t('reports.format.default', { value: String(option.default) });
  const description = shownDefault ? `${help} · ${shownDefault}` : help;
  switch (option.type) {
    case 'boolean':
      return (
        <Switch
          label={label}
          description={help}
          checked={(value ?? option.default ?? false) === true}
          onChange={(e) =>
            onChange(e.currentTarget.checked === option.default ? undefined : e.currentTarget.checked)
          }
          error={error}
          data-option={option.name}
        />
      );
    case 'enum':
      return (
        <Select
          label={label}
          description={help}
          data={(option.values ?? []).map((v) => ({ value: v, label: v }))}
          value={String(value ?? option.default ?? '')}
          onChange={(v) => onChange(v === null || v === option.default ? undefined : v)}
          allowDeselect={false}
          error={error}
          data-option={option.name}
        />
      );
    case 'integer':
      return (
        <NumberInput
          label={label}
          description={description}
          value={typeof value === 'number' ? value : ''}
          placeholder={option.default === undefined ? undefined : String(option.default)}
          min={option.minimum}
          max={option.maximum}
          allowDecimal={false}
          onChange={(v) => onChange(typeof v === 'number' ? v : undefined)}
          error={error}
          data-option={option.name}
        />
      );
    case 'json':
      return (
        <JsonOptionField
          label={label}
          description={help}
          value={value}
          placeholder={typeof option.default === 'string' ? option.default : undefined}
          onChange={onChange}
          error={error}
          name={option.name}
        />
      );
    default:
      return (
        <TextInput
          label={label}
          description={description}
          value={typeof value === 'string' ? value : ''}
          placeholder={
            option.default === undefined || option.default === '' ? undefined : String(option.default)
          }
          maxLength={option.maxLength}
          onChange={(e) => {
            const v = e.currentTarget.value;
            onChange(v === '' ? undefined : v);
          }}
          error={error}
          data-option={option.name}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
      );
  }
}

/** The live example of the file name, rendered by the server as the run will. */
function FileNameExample({
  format,
  options,
  reportName,
  timezone,
  at,
  error,
}: {
  format: string;
  options: Record<string, unknown>;
  reportName: string;
  timezone: string;
  at: string | undefined;
  error: string | undefined;
}) {
  const t = useT();
  const [input] = useDebouncedValue({ format, options, reportName, timezone, at }, 300);
  const example = useQuery({
    queryKey: ['file-name-example', input],
    queryFn: () =>
      unwrap(
        api.POST('/api/v1/formats/file-name', {
          body: {
            format: input.format as 'csv',
            // Only what shapes the name: a format's other settings (DATEV's consultant
            // number, say) may still be half filled in while the example updates.
            formatOptions: Object.fromEntries(
              Object.entries(input.options).filter(([name]) => name === 'fileName' || name === 'compression'),
            ),
            reportName: input.reportName || 'report',
            timezone: input.timezone,
            ...(input.at ? { at: input.at } : {}),
          },
        }),
      ),
    retry: false,
    placeholderData: (previous) => previous,
  });
  if (error) return null;
  if (example.error) {
    const problem = example.error instanceof ApiError ? example.error : undefined;
    const message = problem?.errors[0]?.message ?? problem?.detail ?? String(example.error);
    return (
      <Text size="sm" c="red" role="status" data-testid="file-name-example-error">
        {message}
      </Text>
    );
  }
  return (
    <Text size="sm" c="dimmed" role="status" aria-live="polite" data-testid="file-name-example">
      {example.data
        ? t('reports.format.fileNameExample', { name: example.data.fileName })
        : t('reports.format.fileNameExampleLoading')}
    </Text>
  );
}

export function FormatOptionsFields(props: {
  format: string;
  options: Record<string, unknown>;
  onFormatChange(format: string): void;
  onOptionsChange(options: Record<string, unknown>): void;
  errors?: Record<string, string>;
  /** For the file-name example: the report's name, the run's zone and time (default now). */
  reportName?: string;
  timezone?: string;
  at?: string;
}) {
  const t = useT();
  const formats = useFormats();
  if (formats.isPending) return <SectionLoader />;
  if (formats.isError) return <ErrorAlert error={formats.error} onRetry={() => formats.refetch()} />;
  const info = formats.data;
  const current = info.formats.find((f) => f.format === props.format);
  const set = (name: string, value: unknown) => {
    const next = { ...props.options };
    if (value === undefined) delete next[name];
    else next[name] = value;
    props.onOptionsChange(next);
  };
  const compression = info.common.find((o) => o.name === 'compression');
  const fileName = info.common.find((o) => o.name === 'fileName');
  const formatLabel = (f: string) => {
    const key = `reports.format.${f}` as MessageKey;
    return t(key) === key ? f : t(key);
  };
  return (
    <Stack gap="md">
      <Select
        label={t('reports.format.format')}
        data={info.formats.map((f) => ({ value: f.format, label: formatLabel(f.format) }))}
        value={props.format}
        allowDeselect={false}
        onChange={(f) => {
          if (!f || f === props.format) return;
          props.onFormatChange(f);
          props.onOptionsChange(optionsForFormat(info, f, props.options));
        }}
        error={props.errors?.['format']}
        data-testid="format-select"
      />
      {current && current.options.length > 0 ? (
        <Fieldset legend={t('reports.format.optionsOf', { format: current.format.toUpperCase() })}>
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="md" verticalSpacing="md">
            {current.options.map((o) => (
              <OptionField
                key={`${current.format}.${o.name}`}
                option={o}
                value={props.options[o.name]}
                onChange={(v) => set(o.name, v)}
                error={errorFor(props.errors, o.name)}
              />
            ))}
          </SimpleGrid>
        </Fieldset>
      ) : (
        <Text size="sm" c="dimmed">
          {t('reports.format.noOptions')}
        </Text>
      )}
      {compression ? (
        <Stack gap={4}>
          <Text size="sm" fw={500} id="format-compression-label">
            {t('reports.format.compression')}
          </Text>
          <SegmentedControl
            aria-labelledby="format-compression-label"
            data={(compression.values ?? []).map((v) => ({
              value: v,
              label: t(`reports.format.compression.${v}` as MessageKey),
            }))}
            value={String(props.options['compression'] ?? compression.default ?? 'none')}
            onChange={(v) => set('compression', v === compression.default ? undefined : v)}
          />
          {errorFor(props.errors, 'compression') ? (
            <Text size="xs" c="red">
              {errorFor(props.errors, 'compression')}
            </Text>
          ) : null}
        </Stack>
      ) : null}
      {fileName ? (
        <Stack gap={4}>
          <TextInput
            label={t('reports.format.fileName')}
            description={t('reports.format.fileNameHelp', {
              placeholders: info.fileName.placeholders.map((p) => p.placeholder).join(' '),
            })}
            placeholder={info.fileName.default}
            value={typeof props.options['fileName'] === 'string' ? props.options['fileName'] : ''}
            maxLength={fileName.maxLength}
            onChange={(e) =>
              set('fileName', e.currentTarget.value === '' ? undefined : e.currentTarget.value)
            }
            error={errorFor(props.errors, 'fileName')}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          />
          <FileNameExample
            format={props.format}
            options={props.options}
            reportName={props.reportName ?? ''}
            timezone={props.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone}
            at={props.at}
            error={errorFor(props.errors, 'fileName')}
          />
        </Stack>
      ) : null}
    </Stack>
  );
}
