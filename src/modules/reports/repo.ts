import type { Executor } from '../../db/db.ts';
import type { BuilderSpec } from './builder.ts';
import type { ParameterDefinition } from './parameters.ts';

export interface ReportRow {
  id: string;
  tenant_id: string;
  connection_id: string;
  name: string;
  description: string;
  sql: string | null;
  spec: BuilderSpec | null;
  parameters: ParameterDefinition[];
  template_key: string | null;
  created_at: Date;
  updated_at: Date;
}

const columns =
  'id, tenant_id, connection_id, name, description, sql, spec, parameters, template_key, created_at, updated_at';

export interface ReportFields {
  connectionId: string;
  name: string;
  description: string;
  sql: string | null;
  spec: BuilderSpec | null;
  parameters: ParameterDefinition[];
}

export async function insertReport(
  db: Executor,
  r: ReportFields & { id: string; tenantId: string; templateKey: string | null; createdBy: string | null },
): Promise<ReportRow> {
  const res = await db.query<ReportRow>(
    `INSERT INTO reports (id, tenant_id, connection_id, name, description, sql, spec, parameters, template_key, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${columns}`,
    [
      r.id,
      r.tenantId,
      r.connectionId,
      r.name,
      r.description,
      r.sql,
      r.spec ? JSON.stringify(r.spec) : null,
      JSON.stringify(r.parameters),
      r.templateKey,
      r.createdBy,
    ],
  );
  return res.rows[0]!;
}

export async function getReport(db: Executor, tenantId: string, id: string): Promise<ReportRow | undefined> {
  const r = await db.query<ReportRow>(`SELECT ${columns} FROM reports WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    id,
  ]);
  return r.rows[0];
}

/** A report of any tenant, by id: for the operator's own commands (`ferry export`), never for the API. */
export async function getReportOfAnyTenant(db: Executor, id: string): Promise<ReportRow | undefined> {
  const r = await db.query<ReportRow>(`SELECT ${columns} FROM reports WHERE id = $1`, [id]);
  return r.rows[0];
}

export async function listReports(
  db: Executor,
  tenantId: string,
  afterId: string | undefined,
  limit: number,
  search?: string,
): Promise<ReportRow[]> {
  // A search matches the name or description, case-insensitively, as plain text (no wildcards).
  const pattern = search ? `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const r = await db.query<ReportRow>(
    `SELECT ${columns} FROM reports WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid)
       AND ($4::text IS NULL OR name ILIKE $4 OR description ILIKE $4)
     ORDER BY id LIMIT $3`,
    [tenantId, afterId ?? null, limit, pattern],
  );
  return r.rows;
}

export async function updateReport(
  db: Executor,
  tenantId: string,
  id: string,
  r: ReportFields & { at: Date },
): Promise<ReportRow | undefined> {
  const res = await db.query<ReportRow>(
    `UPDATE reports SET connection_id = $3, name = $4, description = $5, sql = $6, spec = $7, parameters = $8, updated_at = $9
      WHERE tenant_id = $1 AND id = $2 RETURNING ${columns}`,
    [
      tenantId,
      id,
      r.connectionId,
      r.name,
      r.description,
      r.sql,
      r.spec ? JSON.stringify(r.spec) : null,
      JSON.stringify(r.parameters),
      r.at,
    ],
  );
  return res.rows[0];
}

export async function deleteReport(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM reports WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return r.rowCount > 0;
}
