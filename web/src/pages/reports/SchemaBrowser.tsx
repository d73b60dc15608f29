import {
  ActionIcon,
  Badge,
  Box,
  Group,
  NavLink,
  ScrollArea,
  Stack,
  Text,
  TextInput,
  Tooltip,
  UnstyledButton,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api/client';
import { ErrorAlert, SectionLoader } from '../../components/states';
import { useT } from '../../i18n';
import type { SchemaTable } from './SqlEditor';

export const schemaKey = (connectionId: string) => ['connection-schema', connectionId] as const;

/** The connection's tables and columns (cached by the server; refresh reads again). */
export function useConnectionSchema(connectionId: string | undefined) {
  return useQuery({
    queryKey: schemaKey(connectionId ?? ''),
    queryFn: () =>
      unwrap(api.GET('/api/v1/connections/{id}/schema', { params: { path: { id: connectionId ?? '' } } })),
    enabled: Boolean(connectionId),
    staleTime: 5 * 60_000,
  });
}

const qualified = (t: SchemaTable) => (t.schema ? `${t.schema}.${t.name}` : t.name);

/** Tables with search; a table's columns are shown (and rendered) only when it is opened. */
export function SchemaBrowser({
  connectionId,
  onInsert,
}: {
  connectionId: string | undefined;
  /** Clicking a name inserts it (absent: read only). */
  onInsert?: (text: string) => void;
}) {
  const t = useT();
  const queryClient = useQueryClient();
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const schema = useConnectionSchema(connectionId);
  const refresh = async () => {
    if (!connectionId) return;
    const fresh = await unwrap(
      api.GET('/api/v1/connections/{id}/schema', {
        params: { path: { id: connectionId }, query: { refresh: true } },
      }),
    );
    queryClient.setQueryData(schemaKey(connectionId), fresh);
  };
  if (!connectionId)
    return (
      <Text size="sm" c="dimmed">
        {t('reports.schema.pickConnection')}
      </Text>
    );
  const needle = search.trim().toLowerCase();
  const tables = (schema.data?.tables ?? []).filter(
    (tb) =>
      !needle ||
      qualified(tb).toLowerCase().includes(needle) ||
      tb.columns.some((c) => c.name.toLowerCase().includes(needle)),
  );
  return (
    <Stack gap="xs" data-testid="schema-browser">
      <Group gap="xs" wrap="nowrap">
        <TextInput
          aria-label={t('reports.schema.search')}
          placeholder={t('reports.schema.search')}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          size="xs"
          style={{ flex: 1 }}
        />
        <Tooltip label={t('reports.schema.refresh')}>
          <ActionIcon variant="default" aria-label={t('reports.schema.refresh')} onClick={refresh} size="md">
            <span aria-hidden="true">↻</span>
          </ActionIcon>
        </Tooltip>
      </Group>
      {schema.isPending ? (
        <SectionLoader />
      ) : schema.isError ? (
        <ErrorAlert error={schema.error} onRetry={() => schema.refetch()} />
      ) : tables.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('reports.schema.empty')}
        </Text>
      ) : (
        <ScrollArea.Autosize mah={460} type="auto">
          {tables.map((tb) => {
            const name = qualified(tb);
            const opened = open === name || (needle !== '' && tables.length <= 5);
            return (
              <NavLink
                key={name}
                // A button (inside the editor's form it must not submit): an <a> without href is not focusable.
                component="button"
                aria-expanded={opened}
                label={
                  <Text size="sm" ff="monospace" truncate="end">
                    {name}
                  </Text>
                }
                description={t('reports.schema.columns', { count: tb.columns.length })}
                opened={opened}
                onChange={(o) => setOpen(o ? name : null)}
                childrenOffset={12}
                py={4}
              >
                {opened
                  ? [
                      onInsert ? (
                        <UnstyledButton
                          key="__table"
                          onClick={() => onInsert(name)}
                          aria-label={t('reports.schema.insert', { name })}
                          py={2}
                        >
                          <Text size="xs" c="blue">
                            + {name}
                          </Text>
                        </UnstyledButton>
                      ) : null,
                      ...tb.columns.map((c) => (
                        <Box key={c.name} py={2}>
                          <Group gap={6} wrap="nowrap" justify="space-between">
                            {onInsert ? (
                              <UnstyledButton
                                onClick={() => onInsert(c.name)}
                                aria-label={t('reports.schema.insert', { name: c.name })}
                                style={{ minWidth: 0 }}
                              >
                                <Text size="xs" ff="monospace" truncate="end">
                                  {c.name}
                                </Text>
                              </UnstyledButton>
                            ) : (
                              <Text size="xs" ff="monospace" truncate="end">
                                {c.name}
                              </Text>
                            )}
                            <Badge size="xs" variant="light" color="gray" tt="none" style={{ flexShrink: 0 }}>
                              {c.dbType}
                            </Badge>
                          </Group>
                        </Box>
                      )),
                    ]
                  : null}
              </NavLink>
            );
          })}
        </ScrollArea.Autosize>
      )}
    </Stack>
  );
}
