import { useQuery } from '@tanstack/react-query';
import { api, type ResponseOf, unwrap } from '../../api/client';

export type Report = ResponseOf<'/api/v1/reports/{id}', 'get'>;
export type Template = ResponseOf<'/api/v1/templates', 'get'>['items'][number];
export type Connection = ResponseOf<'/api/v1/connections', 'get'>['items'][number];
export type ParameterDef = Report['parameters'][number];

export const reportKey = (id: string) => ['report', id] as const;
export const REPORTS_KEY = ['reports'] as const;

export function useReports(q: string) {
  return useQuery({
    queryKey: [...REPORTS_KEY, { q }],
    queryFn: () =>
      unwrap(api.GET('/api/v1/reports', { params: { query: { limit: 200, ...(q ? { q } : {}) } } })),
    placeholderData: (previous) => previous,
  });
}

export function useReport(id: string | undefined) {
  return useQuery({
    queryKey: reportKey(id ?? ''),
    queryFn: () => unwrap(api.GET('/api/v1/reports/{id}', { params: { path: { id: id ?? '' } } })),
    enabled: Boolean(id),
  });
}

export function useTemplates() {
  return useQuery({
    queryKey: ['templates'],
    queryFn: () => unwrap(api.GET('/api/v1/templates')),
    staleTime: Number.POSITIVE_INFINITY,
  });
}

export function useConnections() {
  return useQuery({
    queryKey: ['connections', 'all'],
    queryFn: () => unwrap(api.GET('/api/v1/connections', { params: { query: { limit: 200 } } })),
  });
}

/** The names used as {{name}} in SQL, in order of first use (comments and strings are not skipped: the server decides). */
export function sqlParameterNames(sql: string): string[] {
  const names: string[] = [];
  for (const m of sql.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) {
    const name = m[1] as string;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** "(at position 42)" in a database error → line and column in the SQL (1-based). */
export function sqlErrorLocation(
  message: string,
  sql: string,
): { line: number; column: number; offset: number } | null {
  const m = /at position (\d+)/.exec(message);
  if (!m) return null;
  const position = Number(m[1]);
  if (!Number.isSafeInteger(position) || position < 1 || position > sql.length + 1) return null;
  const before = [...sql].slice(0, position - 1).join('');
  const lines = before.split('\n');
  return {
    line: lines.length,
    column: (lines[lines.length - 1]?.length ?? 0) + 1,
    offset: before.length,
  };
}
