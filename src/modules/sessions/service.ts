import type { Executor } from '../../db/db.ts';
import type { Clock } from '../../lib/clock.ts';
import { Forbidden, Unauthorized } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { verifyPassword } from '../../lib/passwords.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { recordAnonymousAudit, recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { listMembershipsOfUser } from '../members/repo.ts';
import { type Role, rolePermissions } from '../members/roles.ts';
import { findUserByEmail } from '../users/repo.ts';
import { deleteDeadSessions, findSessionByHash, insertSession, revokeSession, touchSession } from './repo.ts';

export interface LoginResult {
  token: string;
  expiresAt: Date;
  tenantId: string;
  userId: string;
  role: Role;
}

// One message for an unknown e-mail and a wrong password, so the answer does not
// reveal which addresses have accounts.
const LOGIN_FAILED = 'Invalid e-mail or password';

export async function login(
  deps: Deps,
  origin: RequestOrigin,
  input: { email: string; password: string; tenantId?: string | undefined },
): Promise<LoginResult> {
  const user = await findUserByEmail(deps.db, input.email);
  const isValid = await verifyPassword(input.password, user?.password_hash ?? null);
  if (!user || !isValid) {
    await recordFailedLogin(deps, origin, input.email, user?.id);
    throw new Unauthorized(LOGIN_FAILED);
  }
  const memberships = await listMembershipsOfUser(deps.db, user.id);
  const membership = input.tenantId
    ? memberships.find((m) => m.tenant_id === input.tenantId)
    : memberships[0];
  if (!membership) {
    throw new Forbidden(
      input.tenantId ? 'You are not a member of that tenant' : 'Your account belongs to no tenant',
    );
  }
  const token = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + deps.config.sessionTtlHours * 3_600_000);
  const sessionId = newId(now.getTime());
  await deps.db.transaction(async (tx) => {
    await insertSession(tx, {
      id: sessionId,
      tokenHash: sha256Hex(token),
      userId: user.id,
      tenantId: membership.tenant_id,
      expiresAt,
      ip: origin.ip,
      userAgent: origin.userAgent,
      now,
    });
    await recordAnonymousAudit(
      tx,
      deps.clock,
      membership.tenant_id,
      { type: 'user', id: user.id, label: user.email },
      origin,
      {
        action: 'auth.login',
        targetType: 'session',
        targetId: sessionId,
      },
    );
  });
  return { token, expiresAt, tenantId: membership.tenant_id, userId: user.id, role: membership.role };
}

async function recordFailedLogin(
  deps: Deps,
  origin: RequestOrigin,
  email: string,
  userId: string | undefined,
): Promise<void> {
  const event = { action: 'auth.login_failed', targetType: 'user', details: { email: email.slice(0, 320) } };
  const actor = { type: 'anonymous' as const, label: email.slice(0, 320) };
  if (!userId) {
    // No tenant to show it to: kept at instance level.
    await recordAnonymousAudit(deps.db, deps.clock, null, actor, origin, event);
    return;
  }
  // Each tenant the account belongs to sees attempts on it.
  const memberships = await listMembershipsOfUser(deps.db, userId);
  await deps.db.transaction(async (tx) => {
    for (const m of memberships) {
      await recordAnonymousAudit(tx, deps.clock, m.tenant_id, actor, origin, { ...event, targetId: userId });
    }
    if (memberships.length === 0)
      await recordAnonymousAudit(tx, deps.clock, null, actor, origin, { ...event, targetId: userId });
  });
}

export async function logout(deps: Deps, actor: Principal, origin: RequestOrigin): Promise<void> {
  if (!actor.sessionId) return;
  const sessionId = actor.sessionId;
  await deps.db.transaction(async (tx) => {
    await revokeSession(tx, sessionId, deps.clock.now());
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'auth.logout',
      targetType: 'session',
      targetId: sessionId,
    });
  });
}

/** Resolves a session cookie to a principal, or null when unknown, revoked, expired or no longer a member. */
export async function authenticateSession(
  db: Executor,
  clock: Clock,
  token: string,
): Promise<Principal | null> {
  if (token.length === 0 || token.length > 200) return null;
  const session = await findSessionByHash(db, sha256Hex(token));
  const now = clock.now();
  if (!session || session.revoked_at || session.expires_at <= now || !session.role) return null;
  if (now.getTime() - session.last_seen_at.getTime() > 60_000) await touchSession(db, session.id, now);
  return {
    kind: 'user',
    tenantId: session.tenant_id,
    userId: session.user_id,
    apiKeyId: null,
    sessionId: session.id,
    role: session.role,
    permissions: rolePermissions[session.role],
    isInstanceAdmin: session.is_instance_admin,
    label: session.email,
  };
}

/** The `sessions.cleanup` job: removes sessions that have expired or were revoked. */
export async function cleanupSessions(deps: Pick<Deps, 'db' | 'clock' | 'log'>): Promise<number> {
  const deleted = await deleteDeadSessions(deps.db, deps.clock.now());
  if (deleted > 0) deps.log.info({ deleted }, 'removed expired sessions');
  return deleted;
}
