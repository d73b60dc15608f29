import { Conflict, Forbidden, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { lockMemberships } from '../members/repo.ts';
import { aRole, type Role, roleCovers } from '../members/roles.ts';
import { getTenant } from '../tenants/repo.ts';
import { getUser } from '../users/repo.ts';
import { sendInvitationMail } from './mail.ts';
import { type InvitationView, presentInvitation } from './present.ts';
import {
  getInvitation,
  type InvitationStatus,
  insertInvitation,
  isMemberByEmail,
  listInvitations,
  recordEmailOutcome,
  revokeInvitation,
  supersedeOpenInvitation,
} from './repo.ts';

export const INVITATION_TOKEN_PREFIX = 'fryinv_';

export interface CreatedInvitation extends InvitationView {
  /** The link that accepts the invitation; shown to the inviter once, never stored. */
  acceptUrl: string;
}

/**
 * Where the token goes: in the fragment, which browsers send to no server, so it
 * stays out of access logs and Referer headers.
 */
export function acceptUrlFor(publicUrl: string, token: string): string {
  return `${publicUrl}/invite#token=${token}`;
}

function assertMayInvite(actor: Principal, role: Role): void {
  if (!roleCovers(actor.role, role))
    throw new Forbidden(`${aRole(actor.role)} cannot invite a member as ${role}`);
}

/**
 * Invites an address to the caller's tenant. Nothing here looks at accounts:
 * the answer, the e-mail and the work done are the same whether or not the
 * address has one, so inviting cannot be used to find out.
 */
export async function createInvitation(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: { email: string; role: Role; name?: string | undefined },
): Promise<CreatedInvitation> {
  assertMayInvite(actor, input.role);
  const email = input.email.trim();
  const token = `${INVITATION_TOKEN_PREFIX}${randomToken(32)}`;
  const now = deps.clock.now();
  const { row, tenantName, inviter } = await deps.db.transaction(async (tx) => {
    // Serialises invitations and membership changes of the tenant, so two
    // invitations of one address cannot both be open.
    await lockMemberships(tx, actor.tenantId);
    if (await isMemberByEmail(tx, actor.tenantId, email)) throw new Conflict(`${email} is already a member`);
    const superseded = await supersedeOpenInvitation(tx, actor.tenantId, email, now);
    const user = actor.userId ? await getUser(tx, actor.userId) : undefined;
    const row = await insertInvitation(tx, {
      id: newId(now.getTime()),
      tenantId: actor.tenantId,
      email,
      role: input.role,
      name: input.name?.trim() ?? '',
      tokenHash: sha256Hex(token),
      invitedByUserId: actor.userId,
      invitedByApiKeyId: actor.apiKeyId,
      invitedByLabel: actor.label,
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.config.invitationTtlHours * 3_600_000),
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'member.invited',
      targetType: 'invitation',
      targetId: row.id,
      details: { email, role: input.role, ...(superseded ? { supersedes: superseded } : {}) },
    });
    const tenant = await getTenant(tx, actor.tenantId);
    return { row, tenantName: tenant?.name ?? '', inviter: user?.name || user?.email || actor.label };
  });
  const acceptUrl = acceptUrlFor(deps.config.publicUrl, token);
  // After the commit: the invitation stands even if the mail cannot go out.
  const delivery = await sendInvitationMail(deps, {
    to: email,
    tenantName,
    role: input.role,
    inviter,
    acceptUrl,
    expiresAt: row.expires_at,
  });
  await recordEmailOutcome(deps.db, actor.tenantId, row.id, delivery.status, delivery.error);
  const view = presentInvitation(
    { ...row, email_status: delivery.status, email_error: delivery.error },
    deps.clock.now(),
  );
  return { ...view, acceptUrl };
}

export async function listTenantInvitations(
  deps: Deps,
  actor: Principal,
  q: { status?: InvitationStatus | undefined; cursor?: string | undefined; limit: number },
): Promise<Page<InvitationView>> {
  const cursor = decodeCursor(q.cursor, { id: 'uuid' });
  const now = deps.clock.now();
  const rows = await listInvitations(deps.db, actor.tenantId, {
    status: q.status,
    now,
    beforeId: cursor?.id,
    limit: q.limit + 1,
  });
  return toPage(
    rows,
    q.limit,
    (r) => presentInvitation(r, now),
    (r) => ({ id: r.id }),
  );
}

export async function getTenantInvitation(deps: Deps, actor: Principal, id: string): Promise<InvitationView> {
  const row = await getInvitation(deps.db, actor.tenantId, id);
  if (!row) throw new NotFound('Invitation');
  return presentInvitation(row, deps.clock.now());
}

/** Revokes an open invitation; revoking one that is already revoked does nothing. */
export async function revokeTenantInvitation(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const row = await getInvitation(tx, actor.tenantId, id);
    if (!row) throw new NotFound('Invitation');
    if (!roleCovers(actor.role, row.role))
      throw new Forbidden(`${aRole(actor.role)} cannot revoke an invitation as ${row.role}`);
    if (row.accepted_at) throw new Conflict('The invitation was already accepted; remove the member instead');
    if (!(await revokeInvitation(tx, actor.tenantId, id, deps.clock.now(), 'revoked'))) return;
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'member.invitation_revoked',
      targetType: 'invitation',
      targetId: id,
      details: { email: row.email, role: row.role },
    });
  });
}
