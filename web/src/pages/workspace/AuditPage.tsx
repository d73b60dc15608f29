import {
  Accordion,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
} from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useQuery } from '@tanstack/react-query';
import dayjs from 'dayjs';
import { useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { api, type QueryOf, type ResponseOf, unwrap } from '../../api/client';
import { PageHeader } from '../../components/PageHeader';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { LoadMore, LocalDates, useDateFormat, usePagedList } from './shared';

type Entry = ResponseOf<'/api/v1/audit', 'get'>['items'][number];
type ActorType = Entry['actor']['type'];
type AuditQuery = QueryOf<'/api/v1/audit', 'get'>;

const ACTOR_TYPE: Record<ActorType, MessageKey> = {
  user: 'workspace.audit.actorUser',
  api_key: 'workspace.audit.actorKey',
  system: 'workspace.audit.actorSystem',
  anonymous: 'workspace.audit.actorAnonymous',
};
type Option = string | { value: string; label: string };
type Options = Array<Option | { group: string; items: Option[] }>;

const valuesOf = (options: Options): string[] =>
  options.flatMap((o) => (typeof o === 'string' ? [o] : 'group' in o ? valuesOf(o.items) : [o.value]));

/** The options, plus the value from the address when the log no longer lists it (a deep link). */
function withCurrent(options: Options, value: string | null): Options {
  return value && !valuesOf(options).includes(value) ? [...options, value] : options;
}

const FILTERS = ['actor', 'action', 'target', 'from', 'to'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The API query for the filters in the address (days are the user's calendar days). */
function apiQuery(params: URLSearchParams): AuditQuery {
  const q: AuditQuery = {};
  const actor = params.get('actor');
  if (actor) {
    const [type, id] = actor.split(':');
    if (type && type in ACTOR_TYPE) q.actorType = type as ActorType;
    if (id) q.actorId = id;
  }
  const action = params.get('action');
  if (action) q.action = action;
  const target = params.get('target');
  if (target) q.targetType = target;
  const from = params.get('from');
  if (from && DAY.test(from)) q.from = dayjs(from).startOf('day').toISOString();
  const to = params.get('to');
  if (to && DAY.test(to)) q.to = dayjs(to).add(1, 'day').startOf('day').toISOString();
  return q;
}

export function AuditPage() {
  const t = useT();
  return (
    <>
      <PageHeader title={t('nav.audit')} description={t('workspace.audit.description')} />
      <AuditLog />
    </>
  );
}

function AuditLog() {
  const t = useT();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => apiQuery(params), [params]);
  const filtered = FILTERS.some((k) => params.get(k));
  const { query, items } = usePagedList(['workspace', 'audit', filters], (cursor) =>
    unwrap(
      api.GET('/api/v1/audit', {
        params: { query: { ...filters, limit: 50, ...(cursor ? { cursor } : {}) } },
      }),
    ),
  );
  const set = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  const clear = () => set(Object.fromEntries(FILTERS.map((k) => [k, null])));
  return (
    <Stack gap="md">
      <Filters params={params} set={set} filtered={filtered} clear={clear} />
      {query.isPending ? (
        <SectionLoader />
      ) : query.isError ? (
        <ErrorAlert error={query.error} onRetry={() => query.refetch()} />
      ) : items.length === 0 ? (
        filtered ? (
          <EmptyState title={t('state.noResults')} text={t('workspace.audit.noResultsText')}>
            <Button variant="light" onClick={clear}>
              {t('action.clearFilters')}
            </Button>
          </EmptyState>
        ) : (
          <EmptyState title={t('workspace.audit.emptyTitle')} text={t('workspace.audit.emptyText')} />
        )
      ) : (
        <>
          <Accordion variant="separated" multiple chevronPosition="left" aria-label={t('nav.audit')}>
            {items.map((e) => (
              <EntryItem key={e.id} entry={e} />
            ))}
          </Accordion>
          <LoadMore query={query} />
        </>
      )}
    </Stack>
  );
}

function Filters({
  params,
  set,
  filtered,
  clear,
}: {
  params: URLSearchParams;
  set: (changes: Record<string, string | null>) => void;
  filtered: boolean;
  clear: () => void;
}) {
  const t = useT();
  const dateFormat = useDateFormat();
  const facets = useQuery({
    queryKey: ['workspace', 'audit', 'facets'],
    queryFn: () => unwrap(api.GET('/api/v1/audit/facets')),
    staleTime: 60_000,
  });
  const actorOptions = useMemo((): Options => {
    const seenTypes = new Set<ActorType>();
    const named: Array<{ value: string; label: string }> = [];
    for (const a of facets.data?.actors ?? []) {
      seenTypes.add(a.type);
      if (a.id)
        named.push({ value: `${a.type}:${a.id}`, label: `${a.label ?? a.id} (${t(ACTOR_TYPE[a.type])})` });
    }
    const types = (Object.keys(ACTOR_TYPE) as ActorType[])
      .filter((k) => seenTypes.has(k))
      .map((k) => ({ value: k, label: t('workspace.audit.anyOf', { what: t(ACTOR_TYPE[k]) }) }));
    return [
      ...(types.length > 0 ? [{ group: t('workspace.audit.byKind'), items: types }] : []),
      ...(named.length > 0 ? [{ group: t('workspace.audit.byName'), items: named }] : []),
    ];
  }, [facets.data, t]);
  const actionOptions = useMemo((): Options => {
    const actions = facets.data?.actions ?? [];
    const families = [...new Set(actions.map((a) => a.split('.')[0]).filter((f) => f !== undefined))];
    return [
      ...(families.length > 0
        ? [
            {
              group: t('workspace.audit.families'),
              items: families.map((f) => ({
                value: `${f}.*`,
                label: t('workspace.audit.family', { family: f }),
              })),
            },
          ]
        : []),
      ...(actions.length > 0 ? [{ group: t('workspace.audit.actions'), items: actions }] : []),
    ];
  }, [facets.data, t]);
  const from = params.get('from');
  const to = params.get('to');
  return (
    <Paper withBorder p="sm" component="section" aria-label={t('workspace.audit.filters')}>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }} spacing="sm">
        <Select
          label={t('workspace.audit.actor')}
          placeholder={t('workspace.audit.anyone')}
          data={withCurrent(actorOptions, params.get('actor'))}
          value={params.get('actor')}
          onChange={(v) => set({ actor: v })}
          searchable
          clearable
          nothingFoundMessage={t('state.noResults')}
        />
        <Select
          label={t('workspace.audit.action')}
          placeholder={t('workspace.audit.anyAction')}
          data={withCurrent(actionOptions, params.get('action'))}
          value={params.get('action')}
          onChange={(v) => set({ action: v })}
          searchable
          clearable
          nothingFoundMessage={t('state.noResults')}
        />
        <Select
          label={t('workspace.audit.targetType')}
          placeholder={t('workspace.audit.anyTarget')}
          data={withCurrent(facets.data?.targetTypes ?? [], params.get('target'))}
          value={params.get('target')}
          onChange={(v) => set({ target: v })}
          searchable
          clearable
          nothingFoundMessage={t('state.noResults')}
        />
        <LocalDates>
          <DatePickerInput
            type="range"
            allowSingleDateInRange
            label={t('workspace.audit.period')}
            valueFormat={dateFormat}
            clearable
            clearButtonProps={{ 'aria-label': t('workspace.audit.clearPeriod') }}
            maxDate={dayjs().format('YYYY-MM-DD')}
            value={[from && DAY.test(from) ? from : null, to && DAY.test(to) ? to : null]}
            onChange={([a, b]) => {
              // Wait for the second day of a range before filtering (or a cleared range).
              if (a && !b) return;
              set({
                from: a ? dayjs(a).format('YYYY-MM-DD') : null,
                to: b ? dayjs(b).format('YYYY-MM-DD') : null,
              });
            }}
          />
        </LocalDates>
      </SimpleGrid>
      {filtered ? (
        <Group justify="flex-end" mt="xs">
          <Button variant="subtle" size="xs" onClick={clear}>
            {t('action.clearFilters')}
          </Button>
        </Group>
      ) : null}
    </Paper>
  );
}

/** A short word on what the entry touched: a name or address from its details. */
function subjectOf(e: Entry): string | null {
  for (const key of ['name', 'email', 'tenant', 'report', 'schedule']) {
    const v = e.details[key];
    if (typeof v === 'string' && v) return v;
  }
  return null;
}

function EntryItem({ entry: e }: { entry: Entry }) {
  const t = useT();
  const f = useFormat();
  const subject = subjectOf(e);
  const actor = e.actor.label ?? (e.actor.type === 'system' ? t('workspace.audit.actorSystem') : '–');
  const details = Object.keys(e.details).length > 0 ? JSON.stringify(e.details, null, 2) : null;
  return (
    <Accordion.Item value={e.id}>
      <Accordion.Control>
        <Group gap="xs" wrap="wrap" justify="space-between">
          <Group gap="xs" wrap="wrap">
            <Code>{e.action}</Code>
            {subject ? (
              <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
                {subject}
              </Text>
            ) : null}
          </Group>
          <Group gap="xs" wrap="wrap">
            <Text size="sm">{actor}</Text>
            <Badge size="xs" variant="light" color="gray">
              {t(ACTOR_TYPE[e.actor.type])}
            </Badge>
            <Text size="xs" c="dimmed">
              <time dateTime={e.createdAt}>{f.dateTime(e.createdAt, undefined, true)}</time>
            </Text>
          </Group>
        </Group>
      </Accordion.Control>
      <Accordion.Panel>
        <Table variant="vertical" withTableBorder layout="fixed" fz="sm">
          <Table.Tbody>
            <Table.Tr>
              <Table.Th w={160}>{t('workspace.audit.target')}</Table.Th>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>
                {e.target ? `${e.target.type}${e.target.id ? ` ${e.target.id}` : ''}` : '–'}
              </Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>{t('workspace.audit.actorId')}</Table.Th>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>{e.actor.id ?? '–'}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>{t('workspace.audit.ip')}</Table.Th>
              <Table.Td>{e.ip ?? '–'}</Table.Td>
            </Table.Tr>
            <Table.Tr>
              <Table.Th>{t('workspace.audit.userAgent')}</Table.Th>
              <Table.Td style={{ overflowWrap: 'anywhere' }}>{e.userAgent ?? '–'}</Table.Td>
            </Table.Tr>
          </Table.Tbody>
        </Table>
        {details ? (
          <>
            <Text size="sm" fw={500} mt="sm" mb={4}>
              {t('workspace.audit.details')}
            </Text>
            <Code block style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
              {details}
            </Code>
          </>
        ) : null}
      </Accordion.Panel>
    </Accordion.Item>
  );
}
