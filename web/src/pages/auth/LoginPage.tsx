import { Alert, Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { api, unwrap } from '../../api/client';
import { applyProblem } from '../../components/forms';
import { ErrorAlert } from '../../components/states';
import { useT } from '../../i18n';
import { AuthFrame } from './AuthFrame';

/** Only same-site paths are followed after sign-in (never another origin). */
function safeNext(next: string | null): string {
  return next?.startsWith('/') && !/^\/[/\\]/.test(next) ? next : '/reports';
}

export function LoginPage() {
  const t = useT();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const setupOpen = useQuery({
    queryKey: ['setup'],
    queryFn: async () => (await api.GET('/api/v1/setup')).response.status === 200,
  });
  const form = useForm({
    mode: 'controlled',
    initialValues: { email: '', password: '' },
    validate: {
      email: (v) => (v.trim() ? null : t('field.required')),
      password: (v) => (v ? null : t('field.required')),
    },
  });
  const login = useMutation({
    mutationFn: (values: typeof form.values) =>
      unwrap(
        api.POST('/api/v1/auth/login', { body: { email: values.email.trim(), password: values.password } }),
      ),
    onSuccess: () => {
      queryClient.clear();
      navigate(safeNext(params.get('next')), { replace: true });
    },
    onError: (error) => applyProblem(form, error),
  });
  if (setupOpen.data === true) return <Navigate to="/setup" replace />;
  return (
    <AuthFrame title={t('login.title')}>
      {params.get('expired') ? <Alert color="yellow">{t('login.expired')}</Alert> : null}
      {params.get('signedOut') ? <Alert color="gray">{t('login.signedOut')}</Alert> : null}
      <form onSubmit={form.onSubmit((values) => login.mutate(values))} noValidate>
        <Stack gap="sm">
          <TextInput
            label={t('login.email')}
            type="email"
            required
            autoComplete="username"
            {...form.getInputProps('email')}
          />
          <PasswordInput
            label={t('login.password')}
            required
            autoComplete="current-password"
            {...form.getInputProps('password')}
          />
          {login.isError ? <ErrorAlert error={login.error} /> : null}
          <Button type="submit" loading={login.isPending}>
            {t('login.submit')}
          </Button>
        </Stack>
      </form>
    </AuthFrame>
  );
}
