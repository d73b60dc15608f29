import type { Executor } from '../../db/db.ts';
import type { SslMode } from '../../engine/sources/tls.ts';

export const connectionTypes = ['demo', 'postgres', 'mysql', 'sqlite'] as const;
export type ConnectionType = (typeof connectionTypes)[number];

/** Non-secret settings, stored in clear (settings.ts decides them). */
export interface StoredConfig {
  form?: 'url' | 'fields';
  /** The URL form as given, without its secrets: shown back, never handed to a driver. */
  url?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** Older rows: TLS on or off; newer rows also keep sslmode. */
  ssl?: boolean;
  sslmode?: SslMode;
  /** Allowed driver options (driver-options.ts), by their names there. */
  options?: Record<string, string | number>;
  /** Public TLS material (PEM); the key and its passphrase are in the secret. */
  tls?: { ca?: string; cert?: string; servername?: string };
  path?: string;
}

export interface ConnectionRow {
  id: string;
  tenant_id: string;
  name: string;
  type: ConnectionType;
  config: StoredConfig;
  secret: string | null;
  /** The tenant admin confirmed that an administrator account may be used. */
  allow_privileged_user: boolean;
  /** What the database user may do beyond reading, when last checked for these settings. */
  privilege_warnings: string[];
  privileged_user: boolean;
  /** Null: not checked since the settings last changed. */
  privileges_checked_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface PrivilegeState {
  warnings: string[];
  isPrivilegedUser: boolean;
  checkedAt: Date | null;
}

const columns =
  'id, tenant_id, name, type, config, secret, allow_privileged_user, privilege_warnings, privileged_user, privileges_checked_at, created_at, updated_at';

export async function insertConnection(
  db: Executor,
  c: {
    id: string;
    tenantId: string;
    name: string;
    type: ConnectionType;
    config: StoredConfig;
    secret: string | null;
    allowPrivilegedUser: boolean;
    privileges: PrivilegeState;
    createdBy: string | null;
  },
): Promise<ConnectionRow> {
  const r = await db.query<ConnectionRow>(
    `INSERT INTO connections (id, tenant_id, name, type, config, secret, allow_privileged_user, privilege_warnings, privileged_user, privileges_checked_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${columns}`,
    [
      c.id,
      c.tenantId,
      c.name,
      c.type,
      JSON.stringify(c.config),
      c.secret,
      c.allowPrivilegedUser,
      JSON.stringify(c.privileges.warnings),
      c.privileges.isPrivilegedUser,
      c.privileges.checkedAt,
      c.createdBy,
    ],
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

/** The row, locked until the transaction ends: updates compare its version first. */
export async function lockConnection(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<ConnectionRow | undefined> {
  const r = await db.query<ConnectionRow>(
    `SELECT ${columns} FROM connections WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
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
  c: {
    name: string;
    config: StoredConfig;
    secret: string | null;
    allowPrivilegedUser: boolean;
    privileges: PrivilegeState;
    at: Date;
  },
): Promise<ConnectionRow | undefined> {
  const r = await db.query<ConnectionRow>(
    `UPDATE connections SET name = $3, config = $4, secret = $5, allow_privileged_user = $6, privilege_warnings = $7,
            privileged_user = $8, privileges_checked_at = $9, updated_at = $10
      WHERE tenant_id = $1 AND id = $2 RETURNING ${columns}`,
    [
      tenantId,
      id,
      c.name,
      JSON.stringify(c.config),
      c.secret,
      c.allowPrivilegedUser,
      JSON.stringify(c.privileges.warnings),
      c.privileges.isPrivilegedUser,
      c.privileges.checkedAt,
      c.at,
    ],
  );
  return r.rows[0];
}

/** Records a privilege check of the current settings (the version is not changed). */
export async function setConnectionPrivileges(
  db: Executor,
  tenantId: string,
  id: string,
  p: PrivilegeState,
): Promise<void> {
  await db.query(
    'UPDATE connections SET privilege_warnings = $3, privileged_user = $4, privileges_checked_at = $5 WHERE tenant_id = $1 AND id = $2',
    [tenantId, id, JSON.stringify(p.warnings), p.isPrivilegedUser, p.checkedAt],
  );
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
