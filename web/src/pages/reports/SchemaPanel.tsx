import { Badge, Box, Group, NavLink, ScrollArea, Text, UnstyledButton } from '@mantine/core';
import { useState } from 'react';
import { qualifiedName, SchemaBrowser, type SchemaTable } from '../../components/SchemaBrowser';
import { useT } from '../../i18n';

/**
 * The report editor's side panel: the connection's tables with search; a
 * table's columns are shown (and rendered) only when it is opened, or when a
 * search leaves five tables or fewer. Clicking a name inserts it into the SQL.
 */
export function SchemaPanel({
  connectionId,
  onInsert,
}: {
  connectionId: string | undefined;
  /** Clicking a name inserts it (absent: read only). */
  onInsert?: (text: string) => void;
}) {
  const t = useT();
  const [open, setOpen] = useState<string | null>(null);
  if (!connectionId)
    return (
      <Text size="sm" c="dimmed">
        {t('reports.schema.pickConnection')}
      </Text>
    );
  return (
    <Box data-testid="schema-browser">
      <SchemaBrowser connectionId={connectionId} compact>
        {({ matches, search }) =>
          matches.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t('reports.schema.empty')}
            </Text>
          ) : (
            <ScrollArea.Autosize mah={460} type="auto">
              {matches.map((table) => {
                const name = qualifiedName(table);
                const opened = open === name || (search !== '' && matches.length <= 5);
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
                    description={t('reports.schema.columns', { count: table.columns.length })}
                    opened={opened}
                    onChange={(o) => setOpen(o ? name : null)}
                    childrenOffset={12}
                    py={4}
                  >
                    {/* Always a child, or the NavLink has nothing to open: Columns renders only when opened. */}
                    <Columns table={table} onInsert={onInsert} shown={opened} />
                  </NavLink>
                );
              })}
            </ScrollArea.Autosize>
          )
        }
      </SchemaBrowser>
    </Box>
  );
}

/** An opened table: its name and its columns with their database types, each a button that inserts it. */
function Columns({
  table,
  onInsert,
  shown,
}: {
  table: SchemaTable;
  onInsert: ((text: string) => void) | undefined;
  shown: boolean;
}) {
  const t = useT();
  if (!shown) return null;
  const name = qualifiedName(table);
  return [
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
    ...table.columns.map((c) => {
      const columnName = (
        <Text size="xs" ff="monospace" truncate="end">
          {c.name}
        </Text>
      );
      return (
        <Box key={c.name} py={2}>
          <Group gap={6} wrap="nowrap" justify="space-between">
            {onInsert ? (
              <UnstyledButton
                onClick={() => onInsert(c.name)}
                aria-label={t('reports.schema.insert', { name: c.name })}
                style={{ minWidth: 0 }}
              >
                {columnName}
              </UnstyledButton>
            ) : (
              columnName
            )}
            <Badge size="xs" variant="light" color="gray" tt="none" style={{ flexShrink: 0 }}>
              {c.dbType}
            </Badge>
          </Group>
        </Box>
      );
    }),
  ];
}
