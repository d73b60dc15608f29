import type { Executor } from '../../db/db.ts';
import type { Role } from './roles.ts';

export interface MemberRow {
  user_id: string;
  tenant_id: string;
  email: string;
  name: string;
  role: Role;
  has_password: boolean;
  created_at: Date;
}

const memberSelect = `SELECT m.user_id, m.tenant_id, u.email, u.name, m.role, (u.password_hash IS NOT NULL) AS has_password, m.created_at
  FROM memberships m JOIN users u ON u.id = m.user_id`;

export async function insertMembership(
  db: Executor,
  tenantId: string,
  userId: string,
  role: Role,
): Promise<boolean> {
  const r = await db.query(
    'INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [tenantId, userId, role],
  );
  return r.rowCount > 0;
}

export async function getMember(
  db: Executor,
  tenantId: string,
  userId: string,
): Promise<MemberRow | undefined> {
  const r = await db.query<MemberRow>(`${memberSelect} WHERE m.tenant_id = $1 AND m.user_id = $2`, [
    tenantId,
    userId,
  ]);
  return r.rows[0];
}

/** Locks the tenant's membership rows so concurrent role changes see each other (last-owner rule). */
export async function lockMemberships(db: Executor, tenantId: string): Promise<void> {
  await db.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
}

export async function countOwners(db: Executor, tenantId: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM memberships WHERE tenant_id = $1 AND role = 'owner'",
    [tenantId],
  );
  return r.rows[0]!.n;
}

export async function listMembers(
  db: Executor,
  tenantId: string,
  afterUserId: string | undefined,
  limit: number,
): Promise<MemberRow[]> {
  const r = await db.query<MemberRow>(
    `${memberSelect} WHERE m.tenant_id = $1 AND ($2::uuid IS NULL OR m.user_id > $2::uuid) ORDER BY m.user_id LIMIT $3`,
    [tenantId, afterUserId ?? null, limit],
  );
  return r.rows;
}

export async function updateMemberRole(
  db: Executor,
  tenantId: string,
  userId: string,
  role: Role,
): Promise<void> {
  await db.query(
    'UPDATE memberships SET role = $3, updated_at = now() WHERE tenant_id = $1 AND user_id = $2',
    [tenantId, userId, role],
  );
}

export async function deleteMembership(db: Executor, tenantId: string, userId: string): Promise<void> {
  await db.query('DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
}

/** The tenants a user belongs to, oldest membership first. */
export async function listMembershipsOfUser(
  db: Executor,
  userId: string,
): Promise<Array<{ tenant_id: string; role: Role; tenant_name: string }>> {
  const r = await db.query<{ tenant_id: string; role: Role; tenant_name: string }>(
    `SELECT m.tenant_id, m.role, t.name AS tenant_name FROM memberships m JOIN tenants t ON t.id = m.tenant_id
      WHERE m.user_id = $1 ORDER BY m.created_at, m.tenant_id`,
    [userId],
  );
  return r.rows;
}
