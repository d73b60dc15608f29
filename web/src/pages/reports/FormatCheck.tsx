import { Alert, Button, Code, Stack, Text } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { ApiError, api, unwrap } from '../../api/client';
import { ErrorAlert } from '../../components/states';
import { useT } from '../../i18n';

// "Check": the report's first rows through the chosen format's writer, without
// a file. Shows what a run would fail on (row and field) and the file's first
// lines, so an accounting export's settings and mapping are right before the
// accountant gets the file.

type Body = {
  format: string;
  formatOptions: Record<string, unknown>;
  parameters: Record<string, unknown>;
  timezone: string;
};

export function FormatCheck({ reportId, body }: { reportId: string; body: Body }) {
  const t = useT();
  const check = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/v1/reports/{id}/format-check', {
          params: { path: { id: reportId } },
          body: { ...body, format: body.format as 'csv', rows: 1000 },
        }),
      ),
  });
  const result = check.data;
  return (
    <Stack gap="xs" data-testid="format-check">
      <div>
        <Button variant="default" onClick={() => check.mutate()} loading={check.isPending}>
          {t('reports.check.run')}
        </Button>
      </div>
      {check.isError ? (
        check.error instanceof ApiError && check.error.errors.length > 0 ? (
          <Alert color="red" role="alert">
            {check.error.detail}
          </Alert>
        ) : (
          <ErrorAlert error={check.error} />
        )
      ) : null}
      {result ? (
        <Alert
          color={result.ok ? 'green' : 'red'}
          role={result.ok ? 'status' : 'alert'}
          title={result.ok ? t('reports.check.ok', { rows: result.rowsChecked }) : t('reports.check.problem')}
          data-ok={result.ok}
        >
          {result.problem ? <Text size="sm">{result.problem.message}</Text> : null}
          {result.warnings.map((w) => (
            <Text size="sm" key={w.code}>
              {w.message} ({w.count})
            </Text>
          ))}
        </Alert>
      ) : null}
      {result?.preview ? (
        <Code
          block
          style={{ maxHeight: 240, overflow: 'auto', whiteSpace: 'pre' }}
          aria-label={t('reports.check.preview')}
        >
          {result.preview}
        </Code>
      ) : null}
    </Stack>
  );
}
