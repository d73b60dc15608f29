import {
  ActionIcon,
  Button,
  Fieldset,
  Group,
  MultiSelect,
  NumberInput,
  Select,
  Stack,
  TagsInput,
  Text,
  TextInput,
} from '@mantine/core';
import type { BodyOf } from '../../api/client';
import { choicesOf } from '../../components/forms';
import { qualifiedName as qualified, type SchemaTable } from '../../components/SchemaBrowser';
import { type MessageKey, useT } from '../../i18n';

// The point-and-click builder: connection → table → columns, filters, grouping,
// sort; compiled to SQL by the server. The spec's types are the API's (a report's
// `spec`); a filter value written as {{name}} refers to a report parameter.

export type BuilderSpec = NonNullable<BodyOf<'/api/v1/reports', 'post'>['spec']>;
type Filter = NonNullable<BuilderSpec['filters']>[number];
type FilterValue = NonNullable<Filter['value']>;
type Aggregate = NonNullable<BuilderSpec['columns'][number]['aggregate']>;
type FilterOp = Filter['op'];

// Every aggregate and condition the API takes, with its words (see choicesOf).
const AGGREGATES: Record<Aggregate, MessageKey> = {
  count: 'reports.builder.agg.count',
  count_distinct: 'reports.builder.agg.count_distinct',
  sum: 'reports.builder.agg.sum',
  avg: 'reports.builder.agg.avg',
  min: 'reports.builder.agg.min',
  max: 'reports.builder.agg.max',
};
const FILTER_OPS: Record<FilterOp, MessageKey> = {
  eq: 'reports.builder.op.eq',
  ne: 'reports.builder.op.ne',
  lt: 'reports.builder.op.lt',
  lte: 'reports.builder.op.lte',
  gt: 'reports.builder.op.gt',
  gte: 'reports.builder.op.gte',
  between: 'reports.builder.op.between',
  in: 'reports.builder.op.in',
  contains: 'reports.builder.op.contains',
  is_null: 'reports.builder.op.is_null',
  is_not_null: 'reports.builder.op.is_not_null',
};

const PARAM = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;
const toValue = (text: string): FilterValue => {
  const m = PARAM.exec(text.trim());
  return m ? { param: m[1] as string } : text;
};
const fromValue = (v: FilterValue | undefined): string =>
  v === undefined ? '' : typeof v === 'object' ? `{{${v.param}}}` : String(v);

/** The report parameters a spec refers to ({ param: name } filter values). */
export function specParameterNames(spec: BuilderSpec | null | undefined): string[] {
  const names = new Set<string>();
  for (const f of spec?.filters ?? [])
    for (const v of [f.value, ...(f.values ?? [])])
      if (v && typeof v === 'object' && 'param' in v) names.add(v.param);
  return [...names];
}

export function Builder({
  spec,
  onChange,
  tables,
  readOnly,
  errors,
}: {
  spec: BuilderSpec | null;
  onChange(spec: BuilderSpec | null): void;
  tables: SchemaTable[];
  readOnly: boolean;
  errors: Record<string, string>;
}) {
  const t = useT();
  const table = spec
    ? tables.find((tb) => qualified(tb) === spec.table || tb.name === spec.table)
    : undefined;
  const columnNames = table?.columns.map((c) => c.name) ?? [];
  const err = (path: string) => errors[`spec.${path}`];
  const update = (patch: Partial<BuilderSpec>) => spec && onChange({ ...spec, ...patch });
  const tableSelect = (
    <Select
      label={t('reports.builder.table')}
      placeholder={t('reports.builder.tablePlaceholder')}
      data={tables.map((tb) => qualified(tb))}
      value={spec?.table ?? null}
      searchable
      disabled={readOnly}
      error={err('table')}
      onChange={(name) => {
        if (!name) return onChange(null);
        const picked = tables.find((tb) => qualified(tb) === name);
        onChange({
          table: name,
          columns: (picked?.columns ?? []).slice(0, 8).map((c) => ({ column: c.name })),
          limit: spec?.limit,
        } as BuilderSpec);
      }}
    />
  );
  if (!spec || !table)
    return (
      <Stack gap="sm">
        {tableSelect}
        <Text size="sm" c="dimmed">
          {t('reports.builder.pickTable')}
        </Text>
      </Stack>
    );
  const columnData = [...columnNames];
  const filters = spec.filters ?? [];
  const sort = spec.sort ?? [];
  return (
    <Stack gap="md" data-testid="builder">
      {tableSelect}
      <Fieldset legend={t('reports.builder.columns')} disabled={readOnly}>
        <Stack gap="xs">
          {spec.columns.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
            <Group key={i} gap="xs" align="flex-end" wrap="wrap">
              <Select
                label={t('reports.builder.column')}
                data={c.aggregate === 'count' ? ['*', ...columnData] : columnData}
                value={c.column}
                searchable
                allowDeselect={false}
                error={err(`columns.${i}.column`)}
                onChange={(v) =>
                  v && update({ columns: spec.columns.map((x, j) => (j === i ? { ...x, column: v } : x)) })
                }
                style={{ flex: '2 1 160px' }}
              />
              <Select
                label={t('reports.builder.aggregate')}
                data={[{ value: '', label: t('reports.builder.aggregateNone') }, ...choicesOf(AGGREGATES, t)]}
                value={c.aggregate ?? ''}
                allowDeselect={false}
                onChange={(v) =>
                  update({
                    columns: spec.columns.map((x, j) => {
                      if (j !== i) return x;
                      const { aggregate: _drop, ...rest } = x;
                      return v ? { ...rest, aggregate: v as Aggregate } : rest;
                    }),
                  })
                }
                style={{ flex: '1 1 130px' }}
              />
              <ActionIcon
                variant="subtle"
                color="red"
                aria-label={`${t('reports.builder.remove')} ${c.column}`}
                disabled={spec.columns.length <= 1}
                onClick={() => update({ columns: spec.columns.filter((_, j) => j !== i) })}
                mb={4}
              >
                <span aria-hidden="true">✕</span>
              </ActionIcon>
            </Group>
          ))}
          {err('columns') ? (
            <Text size="xs" c="red">
              {err('columns')}
            </Text>
          ) : null}
          <Group>
            <Button
              size="xs"
              variant="light"
              onClick={() => update({ columns: [...spec.columns, { column: columnNames[0] ?? '*' }] })}
            >
              {t('reports.builder.addColumn')}
            </Button>
          </Group>
        </Stack>
      </Fieldset>
      <Fieldset legend={t('reports.builder.filters')} disabled={readOnly}>
        <Stack gap="xs">
          {filters.map((f, i) => {
            const setFilter = (patch: Partial<(typeof filters)[number]>) =>
              update({ filters: filters.map((x, j) => (j === i ? { ...x, ...patch } : x)) });
            const many = f.op === 'between' || f.op === 'in';
            const none = f.op === 'is_null' || f.op === 'is_not_null';
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
              <Group key={i} gap="xs" align="flex-end" wrap="wrap">
                <Select
                  label={t('reports.builder.column')}
                  data={columnData}
                  value={f.column}
                  searchable
                  allowDeselect={false}
                  onChange={(v) => v && setFilter({ column: v })}
                  error={err(`filters.${i}.column`)}
                  style={{ flex: '2 1 150px' }}
                />
                <Select
                  label={t('reports.builder.op')}
                  data={choicesOf(FILTER_OPS, t)}
                  value={f.op}
                  allowDeselect={false}
                  onChange={(v) => {
                    if (!v) return;
                    const op = v as FilterOp;
                    const base = { column: f.column, op };
                    const next =
                      op === 'between' || op === 'in'
                        ? { ...base, values: f.values ?? (f.value !== undefined ? [f.value] : []) }
                        : op === 'is_null' || op === 'is_not_null'
                          ? base
                          : { ...base, value: f.value ?? f.values?.[0] ?? '' };
                    update({ filters: filters.map((x, j) => (j === i ? next : x)) });
                  }}
                  style={{ flex: '1 1 140px' }}
                />
                {none ? null : many ? (
                  <TagsInput
                    label={t('reports.builder.values')}
                    value={(f.values ?? []).map(fromValue)}
                    onChange={(items) => setFilter({ values: items.map(toValue) })}
                    error={err(`filters.${i}.values`)}
                    maxTags={f.op === 'between' ? 2 : undefined}
                    style={{ flex: '2 1 180px' }}
                  />
                ) : (
                  <TextInput
                    label={t('reports.builder.valueParam')}
                    value={fromValue(f.value)}
                    placeholder="{{from}}"
                    onChange={(e) => setFilter({ value: toValue(e.currentTarget.value) })}
                    error={err(`filters.${i}.value`)}
                    style={{ flex: '2 1 180px' }}
                  />
                )}
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={`${t('reports.builder.remove')} ${t('reports.builder.filters')} ${i + 1}`}
                  onClick={() => update({ filters: filters.filter((_, j) => j !== i) })}
                  mb={4}
                >
                  <span aria-hidden="true">✕</span>
                </ActionIcon>
              </Group>
            );
          })}
          <Group>
            <Button
              size="xs"
              variant="light"
              onClick={() =>
                update({ filters: [...filters, { column: columnNames[0] ?? '', op: 'eq', value: '' }] })
              }
            >
              {t('reports.builder.addFilter')}
            </Button>
          </Group>
        </Stack>
      </Fieldset>
      <MultiSelect
        label={t('reports.builder.groupBy')}
        description={t('reports.builder.groupByHelp')}
        data={columnData}
        value={spec.groupBy ?? []}
        disabled={readOnly}
        searchable
        clearable
        error={err('groupBy')}
        onChange={(v) => {
          const { groupBy: _drop, ...rest } = spec;
          onChange(v.length > 0 ? { ...rest, groupBy: v } : rest);
        }}
      />
      <Fieldset legend={t('reports.builder.sort')} disabled={readOnly}>
        <Stack gap="xs">
          {sort.map((s, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
            <Group key={i} gap="xs" align="flex-end" wrap="wrap">
              <Select
                label={t('reports.builder.column')}
                data={[
                  ...new Set([
                    ...spec.columns.map((c) =>
                      c.aggregate
                        ? (c.label ?? `${c.aggregate}_${c.column === '*' ? 'rows' : c.column}`)
                        : c.column,
                    ),
                    ...columnData,
                  ]),
                ]}
                value={s.column}
                searchable
                allowDeselect={false}
                error={err(`sort.${i}.column`)}
                onChange={(v) =>
                  v && update({ sort: sort.map((x, j) => (j === i ? { ...x, column: v } : x)) })
                }
                style={{ flex: '2 1 150px' }}
              />
              <Select
                label={t('reports.builder.direction')}
                data={[
                  { value: 'asc', label: t('reports.builder.asc') },
                  { value: 'desc', label: t('reports.builder.desc') },
                ]}
                value={s.direction ?? 'asc'}
                allowDeselect={false}
                onChange={(v) =>
                  update({
                    sort: sort.map((x, j) =>
                      j === i ? { ...x, direction: v === 'desc' ? 'desc' : 'asc' } : x,
                    ),
                  })
                }
                style={{ flex: '1 1 120px' }}
              />
              <ActionIcon
                variant="subtle"
                color="red"
                aria-label={`${t('reports.builder.remove')} ${t('reports.builder.sort')} ${i + 1}`}
                onClick={() => update({ sort: sort.filter((_, j) => j !== i) })}
                mb={4}
              >
                <span aria-hidden="true">✕</span>
              </ActionIcon>
            </Group>
          ))}
          <Group>
            <Button
              size="xs"
              variant="light"
              onClick={() =>
                update({ sort: [...sort, { column: spec.columns[0]?.column ?? '', direction: 'asc' }] })
              }
            >
              {t('reports.builder.addSort')}
            </Button>
          </Group>
        </Stack>
      </Fieldset>
      <NumberInput
        label={t('reports.builder.limit')}
        value={spec.limit ?? ''}
        min={1}
        allowDecimal={false}
        disabled={readOnly}
        error={err('limit')}
        onChange={(v) => {
          const { limit: _drop, ...rest } = spec;
          onChange(typeof v === 'number' ? { ...rest, limit: v } : rest);
        }}
        maw={220}
      />
    </Stack>
  );
}
