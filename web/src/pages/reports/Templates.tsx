import { Badge, Button, Card, Group, Modal, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api, errorMessage, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { ErrorAlert, SectionLoader } from '../../components/states';
import { type MessageKey, useT } from '../../i18n';
import { REPORTS_KEY, reportKey, useTemplates } from './api';

/** Creates a report from a template and opens it. */
export function useUseTemplate() {
  const t = useT();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (key: string) =>
      unwrap(api.POST('/api/v1/templates/{key}/use', { params: { path: { key } }, body: {} })),
    onSuccess: (report) => {
      queryClient.setQueryData(reportKey(report.id), report);
      void queryClient.invalidateQueries({ queryKey: REPORTS_KEY });
      notifications.show({ color: 'green', message: t('reports.templateCreated', { name: report.name }) });
      navigate(`/reports/${report.id}`);
    },
    onError: (error) => notifications.show({ color: 'red', message: errorMessage(error) }),
  });
}

/** The eleven templates on the demo data as cards, each with its description and "Use this template". */
export function TemplateCards({ cols = 3 }: { cols?: number }) {
  const t = useT();
  const canWrite = useCan('reports:write');
  const templates = useTemplates();
  const use = useUseTemplate();
  if (templates.isPending) return <SectionLoader />;
  if (templates.isError) return <ErrorAlert error={templates.error} onRetry={() => templates.refetch()} />;
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: cols }} spacing="md" data-testid="template-cards">
      {templates.data.items.map((tpl) => {
        const categoryKey = `reports.category.${tpl.category}` as MessageKey;
        const category = t(categoryKey) === categoryKey ? tpl.category : t(categoryKey);
        return (
          <Card key={tpl.key} withBorder padding="md" radius="md" component="article" aria-label={tpl.name}>
            <Stack gap="xs" h="100%" justify="space-between">
              <Stack gap={4}>
                <Group justify="space-between" wrap="nowrap" align="flex-start">
                  <Title order={3} size="h5">
                    {tpl.name}
                  </Title>
                  <Badge variant="light" size="sm" style={{ flexShrink: 0 }}>
                    {category}
                  </Badge>
                </Group>
                <Text size="sm" c="dimmed">
                  {tpl.description}
                </Text>
              </Stack>
              {canWrite ? (
                <Group>
                  <Button
                    size="xs"
                    variant="light"
                    loading={use.isPending && use.variables === tpl.key}
                    onClick={() => use.mutate(tpl.key)}
                    aria-label={`${t('reports.useTemplate')}: ${tpl.name}`}
                    data-template={tpl.key}
                  >
                    {t('reports.useTemplate')}
                  </Button>
                </Group>
              ) : null}
            </Stack>
          </Card>
        );
      })}
    </SimpleGrid>
  );
}

export function TemplateDialog({ opened, onClose }: { opened: boolean; onClose(): void }) {
  const t = useT();
  return (
    <Modal opened={opened} onClose={onClose} title={t('reports.templates')} size="xl">
      <Stack gap="md">
        <Text size="sm" c="dimmed">
          {t('reports.templatesText')}
        </Text>
        <TemplateCards cols={2} />
      </Stack>
    </Modal>
  );
}
