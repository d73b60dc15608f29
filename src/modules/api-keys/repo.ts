import type { Executor } from '../../db/db.ts';
import type { Role } from '../members/roles.ts';

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  role: Role;
  is_instance_admin: boolean;
  created_by: string | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const columns =
  'id, tenant_id, name, prefix, role, is_instance_admin, created_by, created_at, expires_at, last_used_at, revoked_at';

export async function insertApiKey(
  db: Executor,
  k: {
    id: string;
    tenantId: string;
    name: string;
    prefix: string;
    keyHash: string;
    role: Role;
    isInstanceAdmin: boolean;
    createdBy: string | null;
    expiresAt: Date | null;
  },
): Promise<ApiKeyRow> {
  const r = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, is_instance_admin, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${columns}`,
    [k.id, k.tenantId, k.name, k.prefix, k.keyHash, k.role, k.isInstanceAdmin, k.createdBy, k.expiresAt],
  );
  return r.rows[0]!;
}

export interface ApiKeyAuthRow extends ApiKeyRow {
  creator_is_instance_admin: boolean | null;
  /** The creator's role in the key's tenant now; null when they are no longer a member. */
  creator_role: Role | null;
  tenant_name: string;
  tenant_slug: string;
}

export async function findApiKeyByHash(db: Executor, keyHash: string): Promise<ApiKeyAuthRow | undefined> {
  const r = await db.query<ApiKeyAuthRow>(
    `SELECT ${columns
      .split(', ')
      .map((c) => `k.${c}`)
      .join(', ')}, u.is_instance_admin AS creator_is_instance_admin, m.role AS creator_role,
            t.name AS tenant_name, t.slug AS tenant_slug
       FROM api_keys k
       JOIN tenants t ON t.id = k.tenant_id
       LEFT JOIN users u ON u.id = k.created_by
       LEFT JOIN memberships m ON m.tenant_id = k.tenant_id AND m.user_id = k.created_by
      WHERE k.key_hash = $1`,
    [keyHash],
  );
  return r.rows[0];
}

/** Records use at most once a minute per key, so authenticated traffic does not write on every request. */
export async function touchApiKey(db: Executor, id: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`,
    [id, at],
  );
}

export async function listApiKeys(
  db: Executor,
  tenantId: string,
  afterId: string | undefined,
  limit: number,
): Promise<ApiKeyRow[]> {
  const r = await db.query<ApiKeyRow>(
    `SELECT ${columns} FROM api_keys WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
    [tenantId, afterId ?? null, limit],
  );
  return r.rows;
}

export async function getApiKey(db: Executor, tenantId: string, id: string): Promise<ApiKeyRow | undefined> {
  const r = await db.query<ApiKeyRow>(`SELECT ${columns} FROM api_keys WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    id,
  ]);
  return r.rows[0];
}

export async function revokeApiKey(db: Executor, tenantId: string, id: string, at: Date): Promise<boolean> {
  const r = await db.query(
    'UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL',
    [tenantId, id, at],
  );
  return r.rowCount > 0;
}
