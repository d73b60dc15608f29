import type { Executor } from '../../db/db.ts';
import type { Role } from '../members/roles.ts';

export interface SessionAuthRow {
  id: string;
  user_id: string;
  tenant_id: string;
  expires_at: Date;
  revoked_at: Date | null;
  last_seen_at: Date;
  email: string;
  is_instance_admin: boolean;
  role: Role | null;
}

export async function insertSession(
  db: Executor,
  s: {
    id: string;
    tokenHash: string;
    userId: string;
    tenantId: string;
    expiresAt: Date;
    ip: string | null;
    userAgent: string | null;
    now: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO sessions (id, token_hash, user_id, tenant_id, created_at, last_seen_at, expires_at, ip, user_agent)
     VALUES ($1, $2, $3, $4, $8, $8, $5, $6, $7)`,
    [s.id, s.tokenHash, s.userId, s.tenantId, s.expiresAt, s.ip, s.userAgent?.slice(0, 500) ?? null, s.now],
  );
}

/** The session with its user and the user's current role in the session's tenant (null once removed). */
export async function findSessionByHash(
  db: Executor,
  tokenHash: string,
): Promise<SessionAuthRow | undefined> {
  const r = await db.query<SessionAuthRow>(
    `SELECT s.id, s.user_id, s.tenant_id, s.expires_at, s.revoked_at, s.last_seen_at, u.email, u.is_instance_admin, m.role
       FROM sessions s JOIN users u ON u.id = s.user_id
       LEFT JOIN memberships m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
      WHERE s.token_hash = $1`,
    [tokenHash],
  );
  return r.rows[0];
}

export async function touchSession(db: Executor, id: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2::timestamptz - interval '1 minute'`,
    [id, at],
  );
}

export async function revokeSession(db: Executor, id: string, at: Date): Promise<void> {
  await db.query('UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, at]);
}

/** Deletes sessions that expired or were revoked before `before`. Returns how many. */
export async function deleteDeadSessions(db: Executor, before: Date): Promise<number> {
  const r = await db.query('DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $1', [before]);
  return r.rowCount;
}
