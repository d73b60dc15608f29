import { Anchor, Badge, Button, Group, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { PageHeader } from '../../components/PageHeader';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useT } from '../../i18n';
import { type Connection, summaryOf, typeLabel } from './shared';

export function ConnectionsListPage() {
  const t = useT();
  const canWrite = useCan('connections:write');
  const list = useQuery({
    queryKey: ['connections'],
    queryFn: () => unwrap(api.GET('/api/v1/connections', { params: { query: { limit: 500 } } })),
  });
  const items = list.data?.items ?? [];
  return (
    <>
      <PageHeader
        title={t('nav.connections')}
        description={t('connections.list.description')}
        actions={
          canWrite ? (
            <Button component={Link} to="/connections/new">
              {t('connections.list.add')}
            </Button>
          ) : null
        }
      />
      {!canWrite ? <ReadOnlyNotice /> : null}
      {list.isPending ? <SectionLoader /> : null}
      {list.isError ? <ErrorAlert error={list.error} onRetry={() => list.refetch()} /> : null}
      {list.isSuccess && items.length === 0 ? (
        <EmptyState title={t('connections.list.empty')} text={t('connections.list.emptyText')}>
          {canWrite ? (
            <Button component={Link} to="/connections/new">
              {t('connections.list.add')}
            </Button>
          ) : null}
        </EmptyState>
      ) : null}
      {items.length > 0 ? (
        <Table.ScrollContainer minWidth={560}>
          <Table striped highlightOnHover aria-label={t('nav.connections')}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('connections.field.name')}</Table.Th>
                <Table.Th>{t('connections.field.type')}</Table.Th>
                <Table.Th>{t('connections.list.where')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((c: Connection) => (
                <Table.Tr key={c.id}>
                  <Table.Td>
                    <Group gap="xs">
                      <Anchor component={Link} to={`/connections/${c.id}`} fw={500}>
                        {c.name}
                      </Anchor>
                      {c.type === 'demo' ? (
                        <Badge variant="light" color="grape" size="sm">
                          {t('connections.demo.badge')}
                        </Badge>
                      ) : null}
                      {c.privilegeWarnings.length > 0 ? (
                        <Badge variant="light" color="orange" c="var(--mantine-color-text)" size="sm">
                          {t('connections.privileged.badge')}
                        </Badge>
                      ) : null}
                    </Group>
                  </Table.Td>
                  <Table.Td>{typeLabel(t, c.type)}</Table.Td>
                  <Table.Td>
                    <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                      {summaryOf(t, c)}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </>
  );
}
