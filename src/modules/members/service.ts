import { Conflict, Forbidden, NotFound } from '../../lib/errors.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { type MemberView, presentMember } from './present.ts';
import {
  countOwners,
  deleteMembership,
  getMember,
  listMembers,
  lockMemberships,
  type MemberRow,
  updateMemberRole,
} from './repo.ts';
import { aRole, type Role, roleCovers } from './roles.ts';

export async function listTenantMembers(
  deps: Deps,
  actor: Principal,
  q: { cursor?: string | undefined; limit: number },
): Promise<Page<MemberView>> {
  const cursor = decodeCursor(q.cursor, { id: 'uuid' });
  const rows = await listMembers(deps.db, actor.tenantId, cursor?.id, q.limit + 1);
  return toPage(rows, q.limit, presentMember, (r) => ({ id: r.user_id }));
}

export async function getTenantMember(deps: Deps, actor: Principal, userId: string): Promise<MemberView> {
  const row = await getMember(deps.db, actor.tenantId, userId);
  if (!row) throw new NotFound('Member');
  return presentMember(row);
}

function assertMayGrant(actor: Principal, role: Role): void {
  if (!roleCovers(actor.role, role))
    throw new Forbidden(`${aRole(actor.role)} cannot grant the role ${role}`);
}

function assertMayManage(actor: Principal, target: MemberRow): void {
  if (!roleCovers(actor.role, target.role))
    throw new Forbidden(`${aRole(actor.role)} cannot change a member who is ${target.role}`);
}

export async function changeMemberRole(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  userId: string,
  role: Role,
): Promise<MemberView> {
  return deps.db.transaction(async (tx) => {
    await lockMemberships(tx, actor.tenantId);
    const target = await getMember(tx, actor.tenantId, userId);
    if (!target) throw new NotFound('Member');
    assertMayManage(actor, target);
    assertMayGrant(actor, role);
    if (target.role === 'owner' && role !== 'owner' && (await countOwners(tx, actor.tenantId)) === 1) {
      throw new Conflict('The last owner cannot be demoted; make another member owner first');
    }
    if (target.role !== role) {
      await updateMemberRole(tx, actor.tenantId, userId, role);
      await recordAudit(tx, deps.clock, actor, origin, {
        action: 'member.role_changed',
        targetType: 'user',
        targetId: userId,
        details: { email: target.email, from: target.role, to: role },
      });
    }
    return presentMember({ ...target, role });
  });
}

export async function removeMember(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  userId: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await lockMemberships(tx, actor.tenantId);
    const target = await getMember(tx, actor.tenantId, userId);
    if (!target) throw new NotFound('Member');
    assertMayManage(actor, target);
    if (target.role === 'owner' && (await countOwners(tx, actor.tenantId)) === 1) {
      throw new Conflict('The last owner cannot be removed; make another member owner first');
    }
    await deleteMembership(tx, actor.tenantId, userId);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'member.removed',
      targetType: 'user',
      targetId: userId,
      details: { email: target.email, role: target.role },
    });
  });
}
