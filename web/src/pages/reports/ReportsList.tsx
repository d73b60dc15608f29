import { Anchor, Badge, Button, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue, useDisclosure } from '@mantine/hooks';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useCan } from '../../app/session';
import { PageHeader } from '../../components/PageHeader';
import { EmptyState, ErrorAlert, SectionLoader } from '../../components/states';
import { useFormat } from '../../components/time';
import { useT } from '../../i18n';
import { useReports } from './api';
import { TemplateCards, TemplateDialog } from './Templates';

/** /reports: search (?q=), the list, and what to do when there is nothing yet. */
export function ReportsList() {
  const t = useT();
  const f = useFormat();
  const canWrite = useCan('reports:write');
  const canConnect = useCan('connections:write');
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const [text, setText] = useState(q);
  const [debounced] = useDebouncedValue(text, 250);
  const [templatesOpen, templates] = useDisclosure(params.get('templates') === '1');
  const reports = useReports(q);

  useEffect(() => {
    if (debounced.trim() === q) return;
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        if (debounced.trim()) next.set('q', debounced.trim());
        else next.delete('q');
        return next;
      },
      { replace: true },
    );
  }, [debounced, q, setParams]);

  const items = [...(reports.data?.items ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const nothingAtAll = !q && reports.data && items.length === 0;
  // A new workspace holds the example report only: the templates stay in view until it has a few of its own.
  const gettingStarted = !q && canWrite && items.length > 0 && items.length < 3;

  const actions = canWrite ? (
    <>
      <Button variant="default" onClick={templates.open}>
        {t('reports.fromTemplate')}
      </Button>
      <Button component={Link} to="/reports/new">
        {t('reports.new')}
      </Button>
    </>
  ) : null;

  return (
    <>
      <PageHeader title={t('reports.title')} description={t('reports.description')} actions={actions} />
      {nothingAtAll ? (
        <Stack gap="lg">
          <EmptyState title={t('reports.empty')} text={t('reports.emptyText')}>
            {canWrite ? (
              <Button component={Link} to="/reports/new">
                {t('reports.writeSql')}
              </Button>
            ) : null}
            {canConnect ? (
              <Button component={Link} to="/connections/new" variant="default">
                {t('reports.connectDatabase')}
              </Button>
            ) : null}
          </EmptyState>
          <Title order={2} size="h4">
            {t('reports.templates')}
          </Title>
          <TemplateCards />
        </Stack>
      ) : (
        <Stack gap="md">
          <TextInput
            type="search"
            label={t('reports.search')}
            placeholder={t('reports.searchPlaceholder')}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            maw={420}
          />
          {reports.isPending ? (
            <SectionLoader />
          ) : reports.isError ? (
            <ErrorAlert error={reports.error} onRetry={() => reports.refetch()} />
          ) : items.length === 0 ? (
            <EmptyState title={t('reports.noMatch', { q })}>
              <Button variant="light" onClick={() => setText('')}>
                {t('action.clearFilters')}
              </Button>
            </EmptyState>
          ) : (
            <Table.ScrollContainer minWidth={520}>
              <Table highlightOnHover verticalSpacing="sm" data-testid="reports-table">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t('reports.col.name')}</Table.Th>
                    <Table.Th>{t('reports.col.parameters')}</Table.Th>
                    <Table.Th>{t('reports.col.updated')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {items.map((r) => (
                    <Table.Tr key={r.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/reports/${r.id}`} fw={500}>
                          {r.name}
                        </Anchor>
                        {r.description ? (
                          <Text size="xs" c="dimmed" lineClamp={1}>
                            {r.description}
                          </Text>
                        ) : null}
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {r.parameters.map((p) => (
                            <Badge key={p.name} variant="light" color="gray" tt="none" size="sm">
                              {p.name}
                            </Badge>
                          ))}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" title={f.dateTime(r.updatedAt)}>
                          {f.relative(r.updatedAt)}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          {gettingStarted ? (
            <>
              <Title order={2} size="h4" mt="md">
                {t('reports.templates')}
              </Title>
              <TemplateCards />
            </>
          ) : null}
        </Stack>
      )}
      <TemplateDialog opened={templatesOpen} onClose={templates.close} />
    </>
  );
}
