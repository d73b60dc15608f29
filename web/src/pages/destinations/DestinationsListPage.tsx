import { Anchor, Badge, Button, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { PageHeader } from '../../components/PageHeader';
import { ReadOnlyNotice } from '../../components/ReadOnlyNotice';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { type MessageKey, useT } from '../../i18n';
import { PolicySection } from './PolicySection';
import {
  DESTINATION_TYPES,
  type Destination,
  destinationsKey,
  TYPE_ICON,
  targetOf,
  typeLabel,
} from './shared';

export function DestinationsListPage() {
  const t = useT();
  const canWrite = useCan('destinations:write');
  const list = useQuery({
    queryKey: destinationsKey,
    queryFn: () => unwrap(api.GET('/api/v1/destinations')),
  });
  const items = list.data?.items ?? [];
  return (
    <>
      <PageHeader
        title={t('nav.destinations')}
        description={t('destinations.list.description')}
        actions={
          canWrite ? (
            <Button component={Link} to="/destinations/new">
              {t('destinations.list.add')}
            </Button>
          ) : null
        }
      />
      {!canWrite ? <ReadOnlyNotice /> : null}
      <Stack gap="lg">
        {list.isPending ? <SectionLoader /> : null}
        {list.isError ? <ErrorAlert error={list.error} onRetry={() => list.refetch()} /> : null}
        {list.isSuccess && items.length === 0 ? (
          <>
            <EmptyState title={t('destinations.list.empty')} text={t('destinations.list.emptyText')} />
            <TypeCards canWrite={canWrite} />
          </>
        ) : null}
        {items.length > 0 ? <DestinationsTable items={items} /> : null}
        <PolicySection />
      </Stack>
    </>
  );
}

/** One card per type, each leading to its form (where "Send test" is). */
function TypeCards({ canWrite }: { canWrite: boolean }) {
  const t = useT();
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="md">
      {DESTINATION_TYPES.map((type) => (
        <Card key={type} withBorder padding="md" component="section" aria-labelledby={`type-${type}`}>
          <Stack gap="xs" h="100%" justify="space-between">
            <div>
              <Title order={3} size="h5" id={`type-${type}`}>
                <span aria-hidden="true">{TYPE_ICON[type]} </span>
                {typeLabel(t, type)}
              </Title>
              <Text size="sm" c="dimmed">
                {t(`destinations.typeText.${type}` as MessageKey)}
              </Text>
            </div>
            {canWrite ? (
              <Group>
                <Button
                  size="xs"
                  variant="light"
                  component={Link}
                  to={`/destinations/new?type=${type}`}
                  aria-label={`${typeLabel(t, type)}: ${t('destinations.list.createType')}`}
                >
                  {t('destinations.list.createType')}
                </Button>
              </Group>
            ) : null}
          </Stack>
        </Card>
      ))}
    </SimpleGrid>
  );
}

function LastTest({ test }: { test: Destination['lastTest'] }) {
  const t = useT();
  const f = useFormat();
  if (!test)
    return (
      <Text size="sm" c="dimmed">
        {t('destinations.lastTest.never')}
      </Text>
    );
  return (
    <Stack gap={2}>
      <Group gap={6} wrap="nowrap">
        <Badge
          size="sm"
          variant="light"
          color={test.ok ? 'green' : 'red'}
          c="var(--mantine-color-text)"
          leftSection={<span aria-hidden="true">{test.ok ? '✓' : '✕'}</span>}
        >
          {test.ok ? t('destinations.lastTest.ok') : t('destinations.lastTest.failed')}
        </Badge>
        <Text size="xs" c="dimmed">
          <time dateTime={test.at}>{f.dateTime(test.at)}</time>
        </Text>
      </Group>
      <Text size="xs" c="dimmed" lineClamp={2} title={test.message} style={{ overflowWrap: 'anywhere' }}>
        {test.message}
      </Text>
    </Stack>
  );
}

function DestinationsTable({ items }: { items: Destination[] }) {
  const t = useT();
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover aria-label={t('nav.destinations')}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('destinations.col.name')}</Table.Th>
            <Table.Th>{t('destinations.col.type')}</Table.Th>
            <Table.Th>{t('destinations.col.target')}</Table.Th>
            <Table.Th>{t('destinations.col.usedBy')}</Table.Th>
            <Table.Th>{t('destinations.col.lastTest')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((d) => (
            <Table.Tr key={d.id} data-destination={d.name}>
              <Table.Td>
                <Anchor component={Link} to={`/destinations/${d.id}`} fw={500}>
                  {d.name}
                </Anchor>
              </Table.Td>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>
                <span aria-hidden="true">{TYPE_ICON[d.type]} </span>
                {typeLabel(t, d.type)}
              </Table.Td>
              <Table.Td>
                <Text size="sm" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                  {targetOf(d)}
                </Text>
              </Table.Td>
              <Table.Td>
                {d.usedBy.length === 0 ? (
                  <Text size="sm" c="dimmed">
                    {t('destinations.usedBy.none')}
                  </Text>
                ) : (
                  <Group gap={4}>
                    {d.usedBy.map((s, i) => (
                      <Text size="sm" key={s.id} component="span">
                        <Anchor component={Link} to={`/schedules/${s.id}`}>
                          {s.name}
                        </Anchor>
                        {i < d.usedBy.length - 1 ? ',' : ''}
                      </Text>
                    ))}
                  </Group>
                )}
              </Table.Td>
              <Table.Td>
                <LastTest test={d.lastTest} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
