import { Group, NumberInput, Select, Stack, Switch, TagsInput, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { api, type BodyOf, unwrap } from '../api/client';
import { type MessageKey, useI18n, useT } from '../i18n';
import { useFormat } from './time';

// One labelled input per declared report parameter, by its type. Date and
// date-time parameters take a fixed value or a relative one (start_of_last_month
// …); the value each resolves to is asked of the server
// (POST /api/v1/reports/parameters/resolve) and shown under the field.

export const RELATIVE_DATES = [
  'today',
  'yesterday',
  'start_of_week',
  'start_of_month',
  'start_of_last_month',
  'end_of_last_month',
  'start_of_quarter',
  'start_of_year',
  'last_successful_run',
  'run_time',
] as const;

type ResolveBody = BodyOf<'/api/v1/reports/parameters/resolve', 'post'>;
/** A report's parameter declaration, as the API takes and answers it. */
export type ParameterDeclaration = ResolveBody['parameters'][number];

const FIXED = '__fixed';

/** The value a run would bind for each parameter (relative dates resolved in `timezone` at `at`). */
export function useResolvedParameters(
  parameters: ParameterDeclaration[],
  values: Record<string, unknown>,
  timezone: string,
  at?: string,
) {
  const [input] = useDebouncedValue({ parameters, values, timezone, at }, 300);
  return useQuery({
    queryKey: ['parameters-resolve', input],
    queryFn: () =>
      unwrap(
        api.POST('/api/v1/reports/parameters/resolve', {
          body: {
            parameters: input.parameters,
            values: input.values,
            timezone: input.timezone,
            ...(input.at ? { at: input.at } : {}),
          },
        }),
      ),
    enabled: input.parameters.length > 0,
    retry: false,
    placeholderData: (previous) => previous,
  });
}

/** "2026-03-01" → "01.03.2026" in the user's language; an instant → date and time. */
function useShowResolved() {
  const f = useFormat();
  return (type: string, value: unknown): string => {
    if (value === null || value === undefined) return '';
    if (type === 'date' && typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value))
      return f.date(`${value}T12:00:00Z`, 'UTC');
    if (type === 'datetime' && typeof value === 'string') return f.dateTime(value);
    if (Array.isArray(value)) return value.join(', ');
    return String(value);
  };
}

/** A datetime-local input's value for an ISO instant, in the viewer's zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function DateParameter({
  def,
  value,
  onChange,
  error,
  description,
  label,
}: {
  def: ParameterDeclaration;
  value: unknown;
  onChange(value: unknown): void;
  error: string | undefined;
  description: string | undefined;
  label: string;
}) {
  const t = useT();
  const datetime = def.type === 'datetime';
  const shown = value ?? def.default;
  const relative =
    typeof shown === 'string' && (RELATIVE_DATES as readonly string[]).includes(shown) ? shown : null;
  const mode = relative ?? FIXED;
  const fixedValue = relative === null && typeof value === 'string' ? value : '';
  return (
    <Stack gap={4}>
      <Group gap="xs" align="flex-end" wrap="wrap">
        <Select
          label={label}
          description={description}
          data={[
            { value: FIXED, label: t(datetime ? 'reports.param.fixedDateTime' : 'reports.param.fixedDate') },
            ...RELATIVE_DATES.map((r) => ({ value: r, label: t(`reports.param.rel.${r}` as MessageKey) })),
          ]}
          value={mode}
          allowDeselect={false}
          onChange={(m) => {
            if (m === FIXED) onChange(typeof def.default === 'string' && !relative ? def.default : '');
            else onChange(m === def.default ? undefined : m);
          }}
          error={mode === FIXED ? undefined : error}
          style={{ flex: '1 1 220px' }}
          data-parameter={def.name}
        />
        {mode === FIXED ? (
          <TextInput
            type={datetime ? 'datetime-local' : 'date'}
            aria-label={t(datetime ? 'reports.param.dateTime' : 'reports.param.date', { name: label })}
            value={datetime ? (fixedValue ? toLocalInput(fixedValue) : '') : fixedValue}
            onChange={(e) => {
              const v = e.currentTarget.value;
              if (!v) return onChange(undefined);
              onChange(datetime ? new Date(v).toISOString() : v);
            }}
            error={error}
            style={{ flex: '1 1 180px' }}
            data-parameter-fixed={def.name}
          />
        ) : null}
      </Group>
    </Stack>
  );
}

export function ParameterInputs(props: {
  parameters: ParameterDeclaration[];
  values: Record<string, unknown>;
  onChange(values: Record<string, unknown>): void;
  errors?: Record<string, string>;
  /** Zone and moment the relative dates are resolved in (default: the viewer's zone, now). */
  timezone?: string;
  at?: string;
}) {
  const { t, language } = useI18n();
  const show = useShowResolved();
  const zone = props.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const defs = props.parameters;
  const resolved = useResolvedParameters(defs, props.values, zone, props.at);
  if (defs.length === 0)
    return (
      <Text size="sm" c="dimmed">
        {t('reports.param.none')}
      </Text>
    );
  const set = (name: string, value: unknown) => {
    const next = { ...props.values };
    if (value === undefined) delete next[name];
    else next[name] = value;
    props.onChange(next);
  };
  const errorOf = (name: string): string | undefined => {
    const given = props.errors?.[`parameters.${name}`] ?? props.errors?.[name];
    if (given) return given;
    // The server's own check of an entered value (a missing one is said by the form that sends it).
    if (props.values[name] === undefined) return undefined;
    return resolved.data?.errors.find((e) => e.path === `parameters.${name}`)?.message;
  };
  return (
    <Stack gap="sm">
      {defs.map((def) => {
        const label = def.label || def.name;
        const value = props.values[def.name];
        const error = errorOf(def.name);
        const resolvedValue = resolved.data?.values[def.name];
        const isRelative =
          typeof (value ?? def.default) === 'string' &&
          (RELATIVE_DATES as readonly string[]).includes(String(value ?? def.default));
        const resolvedText =
          resolvedValue !== undefined && resolvedValue !== null && isRelative
            ? t('reports.param.resolvedFor', { value: show(def.type, resolvedValue), zone })
            : undefined;
        const defaultText =
          def.default !== undefined && def.default !== null && !isRelative
            ? t('reports.param.default', { value: show(def.type, def.default) })
            : undefined;
        const description =
          [
            def.description,
            resolvedText ?? defaultText,
            def.required === false ? t('reports.param.optional') : null,
          ]
            .filter(Boolean)
            .join(' · ') || undefined;
        const common = {
          label,
          description,
          error,
          'data-parameter': def.name,
        };
        switch (def.type) {
          case 'date':
          case 'datetime':
            return (
              <div key={def.name} data-testid={`parameter-${def.name}`}>
                <DateParameter
                  def={def}
                  value={value}
                  onChange={(v) => set(def.name, v)}
                  error={error}
                  description={description}
                  label={label}
                />
              </div>
            );
          case 'boolean':
            return (
              <Switch
                key={def.name}
                {...common}
                checked={(value ?? def.default) === true}
                onChange={(e) => set(def.name, e.currentTarget.checked)}
              />
            );
          case 'number':
          case 'integer':
            return (
              <NumberInput
                key={def.name}
                {...common}
                value={typeof value === 'number' ? value : typeof value === 'string' ? value : ''}
                placeholder={def.default === undefined ? undefined : String(def.default)}
                allowDecimal={def.type === 'number'}
                decimalSeparator={language === 'de' ? ',' : '.'}
                onChange={(v) => set(def.name, v === '' ? undefined : v)}
              />
            );
          case 'list':
            return (
              <TagsInput
                key={def.name}
                {...common}
                description={[description, t('reports.param.listHelp')].filter(Boolean).join(' · ')}
                value={Array.isArray(value) ? value.map(String) : []}
                placeholder={Array.isArray(def.default) ? def.default.join(', ') : undefined}
                onChange={(items) => {
                  if (items.length === 0) return set(def.name, undefined);
                  const numeric = def.items === 'number' || def.items === 'integer';
                  set(
                    def.name,
                    numeric ? items.map((i) => (Number.isNaN(Number(i)) ? i : Number(i))) : items,
                  );
                }}
              />
            );
          default:
            return (
              <TextInput
                key={def.name}
                {...common}
                value={typeof value === 'string' ? value : ''}
                placeholder={typeof def.default === 'string' ? def.default : undefined}
                onChange={(e) =>
                  set(def.name, e.currentTarget.value === '' ? undefined : e.currentTarget.value)
                }
              />
            );
        }
      })}
    </Stack>
  );
}
