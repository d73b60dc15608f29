import { Accordion, Badge, Group, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { SchemaBrowser, type SchemaTable } from '../../components/SchemaBrowser';
import { EmptyState } from '../../components/states';
import { useT } from '../../i18n';

const SHOWN = 200;

/** The connection's schema tab: its tables and views, searchable, each opening to its columns and types. */
export function ConnectionSchema({ connectionId }: { connectionId: string }) {
  const t = useT();
  const [open, setOpen] = useState<string[]>([]);
  return (
    <SchemaBrowser connectionId={connectionId}>
      {({ tables, matches, search }) => (
        <>
          <Text size="sm" c="dimmed" aria-live="polite">
            {t('connections.schema.count', { shown: Math.min(matches.length, SHOWN), total: tables.length })}
            {matches.length > SHOWN ? ` ${t('connections.schema.refine')}` : ''}
          </Text>
          {tables.length === 0 ? (
            <EmptyState title={t('connections.schema.empty')} text={t('connections.schema.emptyText')} />
          ) : null}
          {tables.length > 0 && matches.length === 0 ? (
            <Text size="sm">{t('connections.schema.noMatch', { search })}</Text>
          ) : null}
          <Accordion multiple value={open} onChange={setOpen} variant="separated">
            {matches.slice(0, SHOWN).map((table) => {
              const id = `${table.schema ?? ''}.${table.name}`;
              return (
                <Accordion.Item key={id} value={id}>
                  <Accordion.Control>
                    <TableTitle table={table} />
                  </Accordion.Control>
                  <Accordion.Panel>{open.includes(id) ? <Columns table={table} /> : null}</Accordion.Panel>
                </Accordion.Item>
              );
            })}
          </Accordion>
        </>
      )}
    </SchemaBrowser>
  );
}

function TableTitle({ table }: { table: SchemaTable }) {
  const t = useT();
  return (
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
  );
}

/** A table's columns: name, Ferry's type, the database's type and whether it may be empty. */
function Columns({ table }: { table: SchemaTable }) {
  const t = useT();
  return (
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
              <Table.Td>{c.nullable ? t('connections.schema.yes') : t('connections.schema.no')}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
