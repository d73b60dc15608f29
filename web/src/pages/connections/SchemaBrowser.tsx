import { Accordion, Badge, Button, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, unwrap } from '../../api/client';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { useT } from '../../i18n';

const SHOWN = 200;

/** The tables and views of a connection with their columns and types, searchable; refresh reads them again. */
export function SchemaBrowser({ connectionId }: { connectionId: string }) {
  const t = useT();
  const f = useFormat();
  const queryClient = useQueryClient();
  const key = ['connection-schema', connectionId];
  const schema = useQuery({
    queryKey: key,
    queryFn: () =>
      unwrap(api.GET('/api/v1/connections/{id}/schema', { params: { path: { id: connectionId } } })),
    staleTime: 5 * 60_000,
  });
  const refresh = useMutation({
    mutationFn: () =>
      unwrap(
        api.GET('/api/v1/connections/{id}/schema', {
          params: { path: { id: connectionId }, query: { refresh: true } },
        }),
      ),
    onSuccess: (data) => queryClient.setQueryData(key, data),
  });
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim().toLowerCase(), 150);
  const [open, setOpen] = useState<string[]>([]);
  const tables = schema.data?.tables ?? [];
  const matches = useMemo(
    () =>
      debounced
        ? tables.filter(
            (x) =>
              `${x.schema ? `${x.schema}.` : ''}${x.name}`.toLowerCase().includes(debounced) ||
              x.columns.some((c) => c.name.toLowerCase().includes(debounced)),
          )
        : tables,
    [tables, debounced],
  );

  if (schema.isPending) return <SectionLoader />;
  if (schema.isError) return <ErrorAlert error={schema.error} onRetry={() => schema.refetch()} />;
  return (
    <Stack gap="sm">
      <Group justify="space-between" align="flex-end" wrap="wrap">
        <TextInput
          label={t('connections.schema.search')}
          placeholder={t('connections.schema.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={{ base: '100%', xs: 320 }}
          type="search"
        />
        <Group gap="xs">
          <Text size="xs" c="dimmed">
            {t('connections.schema.readAt', { time: f.dateTime(schema.data.cachedAt) })}
          </Text>
          <Button variant="light" size="xs" onClick={() => refresh.mutate()} loading={refresh.isPending}>
            {t('action.refresh')}
          </Button>
        </Group>
      </Group>
      {refresh.isError ? <ErrorAlert error={refresh.error} /> : null}
      <Text size="sm" c="dimmed" aria-live="polite">
        {t('connections.schema.count', { shown: Math.min(matches.length, SHOWN), total: tables.length })}
        {matches.length > SHOWN ? ` ${t('connections.schema.refine')}` : ''}
      </Text>
      {tables.length === 0 ? (
        <EmptyState title={t('connections.schema.empty')} text={t('connections.schema.emptyText')} />
      ) : null}
      {tables.length > 0 && matches.length === 0 ? (
        <Text size="sm">{t('connections.schema.noMatch', { search: search.trim() })}</Text>
      ) : null}
      <Accordion multiple value={open} onChange={setOpen} variant="separated">
        {matches.slice(0, SHOWN).map((table) => {
          const id = `${table.schema ?? ''}.${table.name}`;
          return (
            <Accordion.Item key={id} value={id}>
              <Accordion.Control>
                <Group gap="xs" wrap="nowrap">
                  <Text size="sm" fw={500} style={{ overflowWrap: 'anywhere' }}>
                    {table.schema ? `${table.schema}.` : ''}
                    {table.name}
                  </Text>
                  <Badge size="xs" variant="light" color={table.kind === 'view' ? 'violet' : 'gray'}>
                    {table.kind === 'view' ? t('connections.schema.view') : t('connections.schema.table')}
                  </Badge>
                  <Text size="xs" c="dimmed">
                    {t('connections.schema.columns', { n: table.columns.length })}
                  </Text>
                </Group>
              </Accordion.Control>
              <Accordion.Panel>
                {open.includes(id) ? (
                  <Table.ScrollContainer minWidth={360}>
                    <Table verticalSpacing={4} fz="sm">
                      <Table.Thead>
                        <Table.Tr>
                          <Table.Th>{t('connections.schema.column')}</Table.Th>
                          <Table.Th>{t('connections.schema.type')}</Table.Th>
                          <Table.Th>{t('connections.schema.dbType')}</Table.Th>
                          <Table.Th>{t('connections.schema.nullable')}</Table.Th>
                        </Table.Tr>
                      </Table.Thead>
                      <Table.Tbody>
                        {table.columns.map((c) => (
                          <Table.Tr key={c.name}>
                            <Table.Td style={{ overflowWrap: 'anywhere' }}>{c.name}</Table.Td>
                            <Table.Td>{c.type}</Table.Td>
                            <Table.Td>
                              <Text size="xs" ff="monospace">
                                {c.dbType}
                              </Text>
                            </Table.Td>
                            <Table.Td>
                              {c.nullable ? t('connections.schema.yes') : t('connections.schema.no')}
                            </Table.Td>
                          </Table.Tr>
                        ))}
                      </Table.Tbody>
                    </Table>
                  </Table.ScrollContainer>
                ) : null}
              </Accordion.Panel>
            </Accordion.Item>
          );
        })}
      </Accordion>
    </Stack>
  );
}
