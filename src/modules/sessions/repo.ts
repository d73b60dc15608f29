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
  tenant_name: string;
  tenant_slug: string;
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
    `SELECT s.id, s.user_id, s.tenant_id, s.expires_at, s.revoked_at, s.last_seen_at, u.email, u.is_instance_admin, m.role,
            t.name AS tenant_name, t.slug AS tenant_slug
       FROM sessions s JOIN users u ON u.id = s.user_id
       JOIN tenants t ON t.id = s.tenant_id
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

// Sign-in throttling (login_throttle). Rows are keyed by the lower-cased e-mail as
// typed and a scope: '*' for any address, 'ip:<address>' for a familiar one.

export interface ThrottleRow {
  failures: number;
  last_failed_at: Date | null;
  locked_until: Date | null;
}

/** Whether the account signed in successfully from this scope's address since `since`. */
export async function isFamiliarScope(
  db: Executor,
  email: string,
  scope: string,
  since: Date,
): Promise<boolean> {
  const r = await db.query(
    'SELECT 1 FROM login_throttle WHERE email = lower($1) AND scope = $2 AND last_success_at >= $3',
    [email, scope, since],
  );
  return r.rowCount > 0;
}

/** The count for (email, scope), created empty if missing, locked until the transaction ends. */
export async function lockThrottleRow(db: Executor, email: string, scope: string): Promise<ThrottleRow> {
  await db.query(
    'INSERT INTO login_throttle (email, scope) VALUES (lower($1), $2) ON CONFLICT (email, scope) DO NOTHING',
    [email, scope],
  );
  const r = await db.query<ThrottleRow>(
    'SELECT failures, last_failed_at, locked_until FROM login_throttle WHERE email = lower($1) AND scope = $2 FOR UPDATE',
    [email, scope],
  );
  return r.rows[0]!;
}

export async function saveThrottleFailure(
  db: Executor,
  email: string,
  scope: string,
  s: { failures: number; at: Date; lockedUntil: Date | null },
): Promise<void> {
  await db.query(
    'UPDATE login_throttle SET failures = $3, last_failed_at = $4, locked_until = $5 WHERE email = lower($1) AND scope = $2',
    [email, scope, s.failures, s.at, s.lockedUntil],
  );
}

/** Clears the count of `scope` and records the success on the address's own scope. */
export async function saveThrottleSuccess(
  db: Executor,
  email: string,
  scope: string,
  addressScope: string | null,
  at: Date,
): Promise<void> {
  await db.query(
    'UPDATE login_throttle SET failures = 0, last_failed_at = NULL, locked_until = NULL WHERE email = lower($1) AND scope = $2',
    [email, scope],
  );
  if (addressScope === null) return;
  await db.query(
    `INSERT INTO login_throttle (email, scope, last_success_at) VALUES (lower($1), $2, $3)
     ON CONFLICT (email, scope) DO UPDATE SET last_success_at = excluded.last_success_at`,
    [email, addressScope, at],
  );
}

/** Deletes counts that no longer matter: no recent failure, lock or familiar success. */
export async function deleteStaleThrottles(
  db: Executor,
  s: { failedBefore: Date; succeededBefore: Date; now: Date },
): Promise<number> {
  const r = await db.query(
    `DELETE FROM login_throttle
      WHERE coalesce(last_failed_at, '-infinity') < $1
        AND coalesce(last_success_at, '-infinity') < $2
        AND coalesce(locked_until, '-infinity') <= $3`,
    [s.failedBefore, s.succeededBefore, s.now],
  );
  return r.rowCount;
}
