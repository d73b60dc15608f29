import type { Executor } from '../../db/db.ts';

export const connectionTypes = ['demo', 'postgres', 'mysql', 'sqlite'] as const;
export type ConnectionType = (typeof connectionTypes)[number];

/** Non-secret settings, stored in clear. */
export interface StoredConfig {
  form?: 'url' | 'fields';
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  ssl?: boolean;
  path?: string;
}

export interface ConnectionRow {
  id: string;
  tenant_id: string;
  name: string;
  type: ConnectionType;
  config: StoredConfig;
  secret: string | null;
  created_at: Date;
  updated_at: Date;
}

const columns = 'id, tenant_id, name, type, config, secret, created_at, updated_at';

export async function insertConnection(
  db: Executor,
  c: {
    id: string;
    tenantId: string;
    name: string;
    type: ConnectionType;
    config: StoredConfig;
    secret: string | null;
    createdBy: string | null;
  },
): Promise<ConnectionRow> {
  const r = await db.query<ConnectionRow>(
    `INSERT INTO connections (id, tenant_id, name, type, config, secret, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${columns}`,
    [c.id, c.tenantId, c.name, c.type, JSON.stringify(c.config), c.secret, c.createdBy],
  );
  return r.rows[0]!;
}

export async function getConnection(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<ConnectionRow | undefined> {
  const r = await db.query<ConnectionRow>(
    `SELECT ${columns} FROM connections WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
  return r.rows[0];
}

export async function getDemoConnection(db: Executor, tenantId: string): Promise<ConnectionRow | undefined> {
  const r = await db.query<ConnectionRow>(
    `SELECT ${columns} FROM connections WHERE tenant_id = $1 AND type = 'demo'`,
    [tenantId],
  );
  return r.rows[0];
}

export async function listConnections(
  db: Executor,
  tenantId: string,
  afterId: string | undefined,
  limit: number,
): Promise<ConnectionRow[]> {
  const r = await db.query<ConnectionRow>(
    `SELECT ${columns} FROM connections WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
    [tenantId, afterId ?? null, limit],
  );
  return r.rows;
}

export async function updateConnection(
  db: Executor,
  tenantId: string,
  id: string,
  c: { name: string; config: StoredConfig; secret: string | null; at: Date },
): Promise<ConnectionRow | undefined> {
  const r = await db.query<ConnectionRow>(
    `UPDATE connections SET name = $3, config = $4, secret = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2 RETURNING ${columns}`,
    [tenantId, id, c.name, JSON.stringify(c.config), c.secret, c.at],
  );
  return r.rows[0];
}

export async function countReportsUsing(
  db: Executor,
  tenantId: string,
  connectionId: string,
): Promise<number> {
  const r = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM reports WHERE tenant_id = $1 AND connection_id = $2',
    [tenantId, connectionId],
  );
  return r.rows[0]!.n;
}

export async function deleteConnection(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM connections WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return r.rowCount > 0;
}
