import { Button, Group, Paper, SimpleGrid, Stack, Text, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, unwrap } from '../../api/client';
import { useCan } from '../../app/session';
import { ErrorAlert, SectionLoader } from '../../components/states';
import { useT } from '../../i18n';

const POLICY_KEY = ['delivery-policy'] as const;
const lines = (v: string) =>
  v
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

/** The tenant's allowed e-mail domains and webhook hosts: admins edit, others read. */
export function PolicySection() {
  const t = useT();
  const canWrite = useCan('destinations:write');
  const queryClient = useQueryClient();
  const policy = useQuery({
    queryKey: POLICY_KEY,
    queryFn: () => unwrap(api.GET('/api/v1/delivery-policy')),
  });
  const [domains, setDomains] = useState('');
  const [hosts, setHosts] = useState('');
  useEffect(() => {
    if (!policy.data) return;
    setDomains(policy.data.allowedEmailDomains.join('\n'));
    setHosts(policy.data.allowedWebhookHosts.join('\n'));
  }, [policy.data]);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT('/api/v1/delivery-policy', {
          body: { allowedEmailDomains: lines(domains), allowedWebhookHosts: lines(hosts) },
        }),
      ),
    onSuccess: (result) => {
      queryClient.setQueryData(POLICY_KEY, result);
      notifications.show({ color: 'green', message: t('state.saved') });
    },
  });
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="policy-title" maw={760}>
      <Title order={2} size="h4" id="policy-title">
        {t('destinations.policy.title')}
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        {t('destinations.policy.description')}
      </Text>
      {policy.isPending ? <SectionLoader /> : null}
      {policy.isError ? <ErrorAlert error={policy.error} onRetry={() => policy.refetch()} /> : null}
      {policy.data && !canWrite ? (
        <SimpleGrid cols={{ base: 1, sm: 2 }} component="dl" m={0}>
          <div>
            <Text size="xs" c="dimmed" component="dt">
              {t('destinations.policy.emailDomains')}
            </Text>
            <Text size="sm" component="dd" m={0} data-testid="policy-domains">
              {policy.data.allowedEmailDomains.join(', ') || t('destinations.policy.any')}
            </Text>
          </div>
          <div>
            <Text size="xs" c="dimmed" component="dt">
              {t('destinations.policy.webhookHosts')}
            </Text>
            <Text size="sm" component="dd" m={0} data-testid="policy-hosts">
              {policy.data.allowedWebhookHosts.join(', ') || t('destinations.policy.any')}
            </Text>
          </div>
        </SimpleGrid>
      ) : null}
      {policy.data && canWrite ? (
        <form
          noValidate
          aria-labelledby="policy-title"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <Stack gap="sm">
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <Textarea
                label={t('destinations.policy.emailDomains')}
                description={t('destinations.policy.emailDomainsHelp')}
                placeholder={t('destinations.policy.any')}
                autosize
                minRows={3}
                value={domains}
                onChange={(e) => setDomains(e.currentTarget.value)}
              />
              <Textarea
                label={t('destinations.policy.webhookHosts')}
                description={t('destinations.policy.webhookHostsHelp')}
                placeholder={t('destinations.policy.any')}
                autosize
                minRows={3}
                value={hosts}
                onChange={(e) => setHosts(e.currentTarget.value)}
              />
            </SimpleGrid>
            {save.isError ? <ErrorAlert error={save.error} /> : null}
            <Group>
              <Button type="submit" variant="light" loading={save.isPending}>
                {t('destinations.policy.save')}
              </Button>
            </Group>
          </Stack>
        </form>
      ) : null}
    </Paper>
  );
}
