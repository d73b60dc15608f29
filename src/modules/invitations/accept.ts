import { AppError, Conflict, Forbidden, Invalid, NotFound, Unauthorized } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { hashPassword, verifyPassword } from '../../lib/passwords.ts';
import { sha256Hex } from '../../lib/secrets.ts';
import { recordAnonymousAudit } from '../audit/service.ts';
import type { RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { type MemberView, presentMember } from '../members/present.ts';
import { getMember, insertMembership, listMembershipsOfUser, lockMemberships } from '../members/repo.ts';
import { type Role, roleCovers } from '../members/roles.ts';
import { getTenant } from '../tenants/repo.ts';
import { findUserByEmail } from '../users/repo.ts';
import { invitationStatus } from './present.ts';
import {
  countFailedAttempt,
  findInvitationByTokenHash,
  type InvitationRow,
  type InvitationStatus,
  insertInvitedUser,
  inviterRoleNow,
  lockInvitation,
  markAccepted,
} from './repo.ts';
import { INVITATION_TOKEN_PREFIX } from './service.ts';

// Accepting an invitation: the token says which tenant, role and address; the
// caller proves they are that address's account (signed in as it, or its
// password), or, when the address has no account, chooses the new account's
// password. Every answer before the account is touched is the same for an
// address with and without an account, so holding a token (the inviter does)
// does not reveal which addresses have accounts either.

/** Wrong passwords for the invited account before the invitation is revoked. */
export const MAX_PASSWORD_ATTEMPTS = 5;

export interface AcceptInput {
  token: string;
  password?: string | undefined;
  name?: string | undefined;
}

export interface AcceptResult {
  tenant: { id: string; name: string };
  member: MemberView;
}

export interface InvitationPreview {
  email: string;
  role: Role;
  status: InvitationStatus;
  tenant: { name: string };
  invitedBy: string;
  expiresAt: string;
}

async function findByToken(deps: Deps, token: string): Promise<InvitationRow> {
  const row = token.startsWith(INVITATION_TOKEN_PREFIX)
    ? await findInvitationByTokenHash(deps.db, sha256Hex(token))
    : undefined;
  if (!row) throw new NotFound('Invitation');
  return row;
}

/** What the page behind the link shows before the invitee decides. */
export async function previewInvitation(deps: Deps, token: string): Promise<InvitationPreview> {
  const row = await findByToken(deps, token);
  const tenant = await getTenant(deps.db, row.tenant_id);
  return {
    email: row.email,
    role: row.role,
    status: invitationStatus(row, deps.clock.now()),
    tenant: { name: tenant?.name ?? '' },
    invitedBy: row.invited_by_label,
    expiresAt: row.expires_at.toISOString(),
  };
}

function assertOpen(row: InvitationRow, now: Date): void {
  const status = invitationStatus(row, now);
  if (status === 'accepted') throw new AppError('Gone', 'This invitation has already been used');
  if (status === 'revoked')
    throw new AppError(
      'Gone',
      row.revoked_reason === 'too_many_attempts'
        ? 'This invitation was revoked after too many wrong passwords; ask for a new one'
        : 'This invitation was withdrawn; ask for a new one',
    );
  if (status === 'expired')
    throw new AppError(
      'Gone',
      `This invitation expired at ${row.expires_at.toISOString()}; ask for a new one`,
    );
}

type Invitee = { kind: 'existing'; userId: string } | { kind: 'new'; passwordHash: string };

/**
 * Decides who is accepting. `sessionUserId` is the signed-in user, if the
 * request carried a session that may be used for writes.
 */
async function identifyInvitee(
  deps: Deps,
  row: InvitationRow,
  sessionUserId: string | null,
  origin: RequestOrigin,
  password: string | undefined,
): Promise<Invitee> {
  const account = await findUserByEmail(deps.db, row.email);
  if (sessionUserId !== null) {
    if (account?.id !== sessionUserId)
      throw new Forbidden(
        'This invitation was sent to another e-mail address than the one of the account you are signed in with',
      );
    return { kind: 'existing', userId: account.id };
  }
  if (password === undefined)
    throw Invalid.field(
      'password',
      'is required: the password of your account for this e-mail address, or the password to choose for a new account',
    );
  if (!account) return { kind: 'new', passwordHash: await hashPassword(password) };
  if (await verifyPassword(password, account.password_hash)) return { kind: 'existing', userId: account.id };
  await recordWrongPassword(deps, row, account.id, origin);
  throw new Unauthorized('Wrong password for the account of this e-mail address');
}

/**
 * A wrong password is a sign-in failure for the account (its tenants see it,
 * as with a failed login), and counts against the invitation, which is revoked
 * after MAX_PASSWORD_ATTEMPTS so a token cannot be used to guess passwords.
 */
async function recordWrongPassword(
  deps: Deps,
  row: InvitationRow,
  userId: string,
  origin: RequestOrigin,
): Promise<void> {
  const now = deps.clock.now();
  const memberships = await listMembershipsOfUser(deps.db, userId);
  await deps.db.transaction(async (tx) => {
    const { revoked } = await countFailedAttempt(tx, row.tenant_id, row.id, MAX_PASSWORD_ATTEMPTS, now);
    const actor = { type: 'anonymous' as const, label: row.email };
    for (const m of memberships)
      await recordAnonymousAudit(tx, deps.clock, m.tenant_id, actor, origin, {
        action: 'auth.login_failed',
        targetType: 'user',
        targetId: userId,
        details: { email: row.email, via: 'invitation' },
      });
    if (revoked)
      await recordAnonymousAudit(tx, deps.clock, row.tenant_id, { type: 'system' }, origin, {
        action: 'member.invitation_revoked',
        targetType: 'invitation',
        targetId: row.id,
        details: { email: row.email, role: row.role, reason: 'too_many_attempts' },
      });
  });
}

export async function acceptInvitation(
  deps: Deps,
  sessionUserId: string | null,
  origin: RequestOrigin,
  input: AcceptInput,
): Promise<AcceptResult> {
  const found = await findByToken(deps, input.token);
  assertOpen(found, deps.clock.now());
  // Password hashing and checking are slow: done before the transaction locks anything.
  const invitee = await identifyInvitee(deps, found, sessionUserId, origin, input.password);
  return deps.db.transaction(async (tx) => {
    await lockMemberships(tx, found.tenant_id);
    // Checked again under the lock: of two acceptances of one token, one wins.
    const row = await lockInvitation(tx, found.tenant_id, found.id);
    if (!row) throw new NotFound('Invitation');
    const now = deps.clock.now();
    assertOpen(row, now);
    const inviterRole = await inviterRoleNow(tx, row);
    if (!inviterRole || !roleCovers(inviterRole, row.role))
      throw new AppError(
        'Gone',
        'This invitation is no longer valid: whoever sent it can no longer grant this role; ask for a new one',
      );
    let userId: string;
    if (invitee.kind === 'new') {
      const created = await insertInvitedUser(tx, {
        id: newId(now.getTime()),
        email: row.email,
        name: (input.name ?? row.name).trim(),
        passwordHash: invitee.passwordHash,
      });
      if (!created)
        throw new Conflict(
          'An account for this e-mail address was created meanwhile; accept again with its password',
        );
      userId = created.id;
    } else {
      userId = invitee.userId;
    }
    if (!(await insertMembership(tx, row.tenant_id, userId, row.role)))
      throw new Conflict('You are already a member of this tenant');
    await markAccepted(tx, row.tenant_id, row.id, userId, now);
    await recordAnonymousAudit(
      tx,
      deps.clock,
      row.tenant_id,
      { type: 'user', id: userId, label: row.email },
      origin,
      {
        action: 'member.invitation_accepted',
        targetType: 'user',
        targetId: userId,
        details: { email: row.email, role: row.role, invitationId: row.id },
      },
    );
    const member = await getMember(tx, row.tenant_id, userId);
    const tenant = await getTenant(tx, row.tenant_id);
    return { tenant: { id: row.tenant_id, name: tenant?.name ?? '' }, member: presentMember(member!) };
  });
}
