import type { Executor } from '../../db/db.ts';
import type { Role } from '../members/roles.ts';

export type RevokedReason = 'revoked' | 'superseded' | 'too_many_attempts';
export type EmailStatus = 'pending' | 'sent' | 'failed' | 'not_configured';

export interface InvitationRow {
  id: string;
  tenant_id: string;
  email: string;
  role: Role;
  name: string;
  invited_by_user_id: string | null;
  invited_by_api_key_id: string | null;
  invited_by_label: string;
  created_at: Date;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_user_id: string | null;
  revoked_at: Date | null;
  revoked_reason: RevokedReason | null;
  failed_attempts: number;
  email_status: EmailStatus;
  email_error: string | null;
}

const columns = `id, tenant_id, email, role, name, invited_by_user_id, invited_by_api_key_id, invited_by_label,
  created_at, expires_at, accepted_at, accepted_user_id, revoked_at, revoked_reason, failed_attempts,
  email_status, email_error`;

export interface NewInvitation {
  id: string;
  tenantId: string;
  email: string;
  role: Role;
  name: string;
  tokenHash: string;
  invitedByUserId: string | null;
  invitedByApiKeyId: string | null;
  invitedByLabel: string;
  createdAt: Date;
  expiresAt: Date;
}

export async function insertInvitation(db: Executor, i: NewInvitation): Promise<InvitationRow> {
  const r = await db.query<InvitationRow>(
    `INSERT INTO invitations (id, tenant_id, email, role, name, token_hash, invited_by_user_id,
       invited_by_api_key_id, invited_by_label, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${columns}`,
    [
      i.id,
      i.tenantId,
      i.email,
      i.role,
      i.name,
      i.tokenHash,
      i.invitedByUserId,
      i.invitedByApiKeyId,
      i.invitedByLabel,
      i.createdAt,
      i.expiresAt,
    ],
  );
  return r.rows[0]!;
}

/** Revokes the address's open invitation in the tenant, if any, because a new one replaces it. */
export async function supersedeOpenInvitation(
  db: Executor,
  tenantId: string,
  email: string,
  at: Date,
): Promise<string | undefined> {
  const r = await db.query<{ id: string }>(
    `UPDATE invitations SET revoked_at = $3, revoked_reason = 'superseded'
      WHERE tenant_id = $1 AND lower(email) = lower($2) AND accepted_at IS NULL AND revoked_at IS NULL
      RETURNING id`,
    [tenantId, email, at],
  );
  return r.rows[0]?.id;
}

export async function isMemberByEmail(db: Executor, tenantId: string, email: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.tenant_id = $1 AND lower(u.email) = lower($2)`,
    [tenantId, email],
  );
  return r.rows.length > 0;
}

export async function recordEmailOutcome(
  db: Executor,
  tenantId: string,
  id: string,
  status: EmailStatus,
  error: string | null,
): Promise<void> {
  await db.query(
    'UPDATE invitations SET email_status = $3, email_error = $4 WHERE tenant_id = $1 AND id = $2',
    [tenantId, id, status, error],
  );
}

export async function getInvitation(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<InvitationRow | undefined> {
  const r = await db.query<InvitationRow>(
    `SELECT ${columns} FROM invitations WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id],
  );
  return r.rows[0];
}

export type InvitationStatus = 'pending' | 'expired' | 'accepted' | 'revoked';

// The status of a row as of $2 (the service's clock), as invitationStatus() computes it.
const statusSql = `CASE WHEN accepted_at IS NOT NULL THEN 'accepted' WHEN revoked_at IS NOT NULL THEN 'revoked'
  WHEN expires_at <= $2 THEN 'expired' ELSE 'pending' END`;

/** The tenant's invitations, newest first, optionally of one status. */
export async function listInvitations(
  db: Executor,
  tenantId: string,
  q: { status: InvitationStatus | undefined; now: Date; beforeId: string | undefined; limit: number },
): Promise<InvitationRow[]> {
  const r = await db.query<InvitationRow>(
    `SELECT ${columns} FROM invitations
      WHERE tenant_id = $1 AND ($3::text IS NULL OR ${statusSql} = $3)
        AND ($4::uuid IS NULL OR id < $4::uuid)
      ORDER BY id DESC LIMIT $5`,
    [tenantId, q.now, q.status ?? null, q.beforeId ?? null, q.limit],
  );
  return r.rows;
}

export async function revokeInvitation(
  db: Executor,
  tenantId: string,
  id: string,
  at: Date,
  reason: RevokedReason,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE invitations SET revoked_at = $3, revoked_reason = $4
      WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL`,
    [tenantId, id, at, reason],
  );
  return r.rowCount > 0;
}

// Acceptance starts from the token alone, so the lookup by hash is the one query
// not scoped by a caller's tenant: the row found names the tenant, and every
// later statement is scoped by it.
export async function findInvitationByTokenHash(
  db: Executor,
  tokenHash: string,
): Promise<InvitationRow | undefined> {
  const r = await db.query<InvitationRow>(`SELECT ${columns} FROM invitations WHERE token_hash = $1`, [
    tokenHash,
  ]);
  return r.rows[0];
}

/** Locks the invitation row for acceptance, so two acceptances of one token run one after the other. */
export async function lockInvitation(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<InvitationRow | undefined> {
  const r = await db.query<InvitationRow>(
    `SELECT ${columns} FROM invitations WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
    [tenantId, id],
  );
  return r.rows[0];
}

export async function markAccepted(
  db: Executor,
  tenantId: string,
  id: string,
  userId: string,
  at: Date,
): Promise<void> {
  await db.query(
    'UPDATE invitations SET accepted_at = $3, accepted_user_id = $4 WHERE tenant_id = $1 AND id = $2',
    [tenantId, id, at, userId],
  );
}

/**
 * Counts a wrong password given for the invited account; at `limit` the
 * invitation is revoked. Returns the new count and whether this call revoked it.
 */
export async function countFailedAttempt(
  db: Executor,
  tenantId: string,
  id: string,
  limit: number,
  at: Date,
): Promise<{ attempts: number; revoked: boolean }> {
  const r = await db.query<{ failed_attempts: number; revoked: boolean }>(
    `UPDATE invitations
        SET failed_attempts = failed_attempts + 1,
            revoked_at = CASE WHEN failed_attempts + 1 >= $3 THEN $4 ELSE revoked_at END,
            revoked_reason = CASE WHEN failed_attempts + 1 >= $3 THEN 'too_many_attempts' ELSE revoked_reason END
      WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
      RETURNING failed_attempts, revoked_at IS NOT NULL AS revoked`,
    [tenantId, id, limit, at],
  );
  const row = r.rows[0];
  return { attempts: row?.failed_attempts ?? limit, revoked: row?.revoked ?? false };
}

/**
 * Whether the inviter still vouches for an invitation of `role`: their user is
 * still a member whose role covers it, and the API key they used (if any) is not
 * revoked. Returns the inviter's current role, or null.
 */
export async function inviterRoleNow(db: Executor, invitation: InvitationRow): Promise<Role | null> {
  const r = await db.query<{ role: Role }>(
    `SELECT m.role FROM memberships m
      WHERE m.tenant_id = $1 AND m.user_id = $2
        AND ($3::uuid IS NULL OR EXISTS (
              SELECT 1 FROM api_keys k WHERE k.tenant_id = $1 AND k.id = $3 AND k.revoked_at IS NULL))`,
    [invitation.tenant_id, invitation.invited_by_user_id, invitation.invited_by_api_key_id],
  );
  return r.rows[0]?.role ?? null;
}

/**
 * Creates the invitee's account. Returns undefined when an account for the
 * address appeared meanwhile (another invitation accepted at the same moment),
 * without failing the transaction.
 */
export async function insertInvitedUser(
  db: Executor,
  u: { id: string; email: string; name: string; passwordHash: string },
): Promise<{ id: string; email: string } | undefined> {
  const r = await db.query<{ id: string; email: string }>(
    `INSERT INTO users (id, email, name, password_hash, is_instance_admin) VALUES ($1, $2, $3, $4, false)
     ON CONFLICT DO NOTHING RETURNING id, email`,
    [u.id, u.email, u.name, u.passwordHash],
  );
  return r.rows[0];
}
