import { ActionIcon, Button, Group, Stack, Text, TextInput, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useMemo, useState } from 'react';
import { api, type ResponseOf, unwrap } from '../api/client';
import { useT } from '../i18n';
import { ErrorAlert, SectionLoader } from './states';
import { useFormat } from './time';

// A connection's tables and views as the server read them (it caches them; a
// refresh reads the database again). The connection page and the report
// editor lay the tables out their own way; searching, refreshing and the states
// of the request are the same for both and live here.

export type SchemaTable = ResponseOf<'/api/v1/connections/{id}/schema', 'get'>['tables'][number];

export const schemaKey = (connectionId: string) => ['connection-schema', connectionId] as const;

/** "sales.orders", or "orders" for a database without schemas. */
export const qualifiedName = (table: Pick<SchemaTable, 'schema' | 'name'>) =>
  table.schema ? `${table.schema}.${table.name}` : table.name;

function readSchema(connectionId: string, refresh = false) {
  return unwrap(
    api.GET('/api/v1/connections/{id}/schema', {
      params: { path: { id: connectionId }, query: refresh ? { refresh: true } : {} },
    }),
  );
}

/** The connection's tables and columns (none asked for without a connection). */
export function useConnectionSchema(connectionId: string | undefined) {
  return useQuery({
    queryKey: schemaKey(connectionId ?? ''),
    queryFn: () => readSchema(connectionId ?? ''),
    enabled: Boolean(connectionId),
    staleTime: 5 * 60_000,
  });
}

const matchesSearch = (table: SchemaTable, needle: string) =>
  qualifiedName(table).toLowerCase().includes(needle) ||
  table.columns.some((c) => c.name.toLowerCase().includes(needle));

/** What a page lays out: all tables, those matching the search, and the search as typed (trimmed). */
export interface SchemaFound {
  tables: SchemaTable[];
  matches: SchemaTable[];
  search: string;
}

/**
 * A search field for tables and columns and a refresh action above what the
 * page makes of the tables found (`children`), with the loader or the error in
 * its place while there are none. `compact` suits a side panel: a small field
 * and an icon for refresh, the time the schema was read in its tooltip.
 */
export function SchemaBrowser({
  connectionId,
  compact = false,
  children,
}: {
  connectionId: string;
  compact?: boolean;
  children: (found: SchemaFound) => ReactNode;
}) {
  const t = useT();
  const f = useFormat();
  const queryClient = useQueryClient();
  const schema = useConnectionSchema(connectionId);
  const refresh = useMutation({
    mutationFn: () => readSchema(connectionId, true),
    onSuccess: (data) => queryClient.setQueryData(schemaKey(connectionId), data),
  });
  const [typed, setTyped] = useState('');
  const [search] = useDebouncedValue(typed.trim(), 150);
  const tables = useMemo(() => schema.data?.tables ?? [], [schema.data]);
  const matches = useMemo(() => {
    const needle = search.toLowerCase();
    return needle ? tables.filter((tb) => matchesSearch(tb, needle)) : tables;
  }, [tables, search]);

  const label = t('connections.schema.search');
  const field = {
    value: typed,
    onChange: (e: { currentTarget: { value: string } }) => setTyped(e.currentTarget.value),
    type: 'search',
  };
  const readAt = schema.data
    ? t('connections.schema.readAt', { time: f.dateTime(schema.data.cachedAt) })
    : '';
  const toolbar = compact ? (
    <Group gap="xs" wrap="nowrap">
      <TextInput {...field} aria-label={label} placeholder={label} size="xs" style={{ flex: 1 }} />
      <Tooltip label={[t('connections.schema.refresh'), readAt].filter(Boolean).join(' · ')}>
        <ActionIcon
          variant="default"
          aria-label={t('connections.schema.refresh')}
          onClick={() => refresh.mutate()}
          loading={refresh.isPending}
          size="md"
        >
          <span aria-hidden="true">↻</span>
        </ActionIcon>
      </Tooltip>
    </Group>
  ) : (
    <Group justify="space-between" align="flex-end" wrap="wrap">
      <TextInput
        {...field}
        label={label}
        placeholder={t('connections.schema.searchPlaceholder')}
        w={{ base: '100%', xs: 320 }}
      />
      <Group gap="xs">
        <Text size="xs" c="dimmed">
          {readAt}
        </Text>
        <Button variant="light" size="xs" onClick={() => refresh.mutate()} loading={refresh.isPending}>
          {t('action.refresh')}
        </Button>
      </Group>
    </Group>
  );
  return (
    <Stack gap={compact ? 'xs' : 'sm'}>
      {toolbar}
      {refresh.isError ? <ErrorAlert error={refresh.error} /> : null}
      {schema.isPending ? (
        <SectionLoader />
      ) : schema.isError ? (
        <ErrorAlert error={schema.error} onRetry={() => schema.refetch()} />
      ) : (
        children({ tables, matches, search })
      )}
    </Stack>
  );
}
