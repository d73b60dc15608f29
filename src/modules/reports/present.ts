import { instantText } from '../../engine/formats/values.ts';
import type { ReportRow } from './repo.ts';

export function presentReport(row: ReportRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    connectionId: row.connection_id,
    ...(row.sql !== null ? { sql: row.sql } : {}),
    ...(row.spec !== null ? { spec: row.spec } : {}),
    parameters: row.parameters,
    templateKey: row.template_key,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
export type ReportView = ReturnType<typeof presentReport>;

/** JSON-safe preview cells: exact numbers as strings, instants as ISO-8601, bytes as hex. */
export function presentCell(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return instantText(value);
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  return value;
}
