import { Alert, Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Navigate, useNavigate } from 'react-router';
import { api, unwrap } from '../../api/client';
import { applyProblem } from '../../components/forms';
import { ErrorAlert, FullPageLoader } from '../../components/states';
import { useT } from '../../i18n';
import { AuthFrame } from './AuthFrame';

/** First run: the token from the console creates the workspace and its owner, then signs in. */
export function SetupPage() {
  const t = useT();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [unmatched, setUnmatched] = useState<string[]>([]);
  const open = useQuery({
    queryKey: ['setup'],
    queryFn: async () => (await api.GET('/api/v1/setup')).response.status === 200,
  });
  const form = useForm({
    mode: 'controlled',
    initialValues: { setupToken: '', tenantName: '', name: '', email: '', password: '' },
    validate: {
      setupToken: (v) => (v.trim() ? null : t('field.required')),
      tenantName: (v) => (v.trim() ? null : t('field.required')),
      email: (v) => (/^\S+@\S+\.\S+$/.test(v) ? null : t('setup.emailInvalid')),
      password: (v) => (v.length >= 8 ? null : t('setup.passwordHint')),
    },
  });
  const setup = useMutation({
    mutationFn: async (values: typeof form.values) => {
      await unwrap(
        api.POST('/api/v1/setup', {
          body: {
            setupToken: values.setupToken.trim(),
            tenantName: values.tenantName.trim(),
            email: values.email.trim(),
            password: values.password,
            ...(values.name.trim() ? { name: values.name.trim() } : {}),
          },
        }),
      );
      await unwrap(
        api.POST('/api/v1/auth/login', { body: { email: values.email.trim(), password: values.password } }),
      );
    },
    onSuccess: () => {
      queryClient.clear();
      navigate('/reports?welcome=1', { replace: true });
    },
    onError: (error) => setUnmatched(applyProblem(form, error)),
  });

  if (open.isPending) return <FullPageLoader />;
  if (open.data === false) return <Navigate to="/login" replace />;
  return (
    <AuthFrame title={t('setup.title')} intro={t('setup.intro')}>
      <form onSubmit={form.onSubmit((values) => setup.mutate(values))} noValidate>
        <Stack gap="sm">
          <TextInput
            label={t('setup.token')}
            required
            autoComplete="off"
            {...form.getInputProps('setupToken')}
          />
          <TextInput
            label={t('setup.tenantName')}
            description={t('setup.tenantNameHint')}
            required
            {...form.getInputProps('tenantName')}
          />
          <TextInput label={t('setup.name')} autoComplete="name" {...form.getInputProps('name')} />
          <TextInput
            label={t('setup.email')}
            type="email"
            required
            autoComplete="email"
            {...form.getInputProps('email')}
          />
          <PasswordInput
            label={t('setup.password')}
            description={t('setup.passwordHint')}
            required
            autoComplete="new-password"
            {...form.getInputProps('password')}
          />
          {setup.isError && unmatched.length === 0 && Object.keys(form.errors).length === 0 ? (
            <ErrorAlert error={setup.error} />
          ) : null}
          {unmatched.length > 0 ? <Alert color="red">{unmatched.join('\n')}</Alert> : null}
          <Button type="submit" loading={setup.isPending}>
            {t('setup.submit')}
          </Button>
        </Stack>
      </form>
    </AuthFrame>
  );
}
