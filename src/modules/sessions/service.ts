import type { Executor } from '../../db/db.ts';
import type { Clock } from '../../lib/clock.ts';
import { Forbidden, Unauthorized } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { verifyPassword } from '../../lib/passwords.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { type AuditEvent, recordAnonymousAudit, recordAudit } from '../audit/service.ts';
import type { AuthCache } from '../auth-cache.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { listMembershipsOfUser } from '../members/repo.ts';
import { type Role, rolePermissions } from '../members/roles.ts';
import { findUserByEmail } from '../users/repo.ts';
import { deleteDeadSessions, findSessionByHash, insertSession, revokeSession, touchSession } from './repo.ts';
import {
  admitSignIn,
  cleanupSignInThrottles,
  isFromFamiliarAddress,
  type SignInAttempt,
  signInSucceeded,
} from './throttle.ts';

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
  const attempt = await admitSignIn(deps, input.email, origin.ip);
  const isValid = await verifyPassword(input.password, user?.password_hash ?? null);
  if (!user || !isValid) {
    await recordFailedLogin(deps, origin, input.email, user?.id, attempt);
    throw new Unauthorized(LOGIN_FAILED);
  }
  await signInSucceeded(deps, attempt);
  const memberships = await listMembershipsOfUser(deps.db, user.id);
  const membership = input.tenantId
    ? memberships.find((m) => m.tenant_id === input.tenantId)
    : memberships[0];
  if (!membership) {
    throw new Forbidden(
      input.tenantId ? 'You are not a member of that tenant' : 'Your account belongs to no tenant',
    );
  }
  return startSession(deps, origin, { id: user.id, email: user.email }, membership, 'auth.login');
}

/** Creates a session of a user in one of their tenants, audited as `action` in that tenant. */
async function startSession(
  deps: Deps,
  origin: RequestOrigin,
  user: { id: string; email: string },
  membership: { tenant_id: string; role: Role },
  action: string,
  details?: Record<string, unknown>,
): Promise<LoginResult> {
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
      { action, targetType: 'session', targetId: sessionId, ...(details ? { details } : {}) },
    );
  });
  return { token, expiresAt, tenantId: membership.tenant_id, userId: user.id, role: membership.role };
}

/**
 * Moves a signed-in user to another of their tenants: a new session there (the
 * role is that tenant's), and the current one revoked. No password is asked
 * again: the user is already signed in and a member of both.
 */
export async function switchTenant(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  tenantId: string,
): Promise<LoginResult> {
  if (actor.kind !== 'user' || !actor.sessionId || !actor.userId) {
    throw new Forbidden('Only a signed-in user can switch workspaces; an API key belongs to one tenant');
  }
  const memberships = await listMembershipsOfUser(deps.db, actor.userId);
  const membership = memberships.find((m) => m.tenant_id === tenantId);
  if (!membership) throw new Forbidden('You are not a member of that tenant');
  const result = await startSession(
    deps,
    origin,
    { id: actor.userId, email: actor.label },
    membership,
    'auth.switch_tenant',
    { fromTenantId: actor.tenantId },
  );
  const previous = actor.sessionId;
  await deps.db.transaction(async (tx) => {
    await revokeSession(tx, previous, deps.clock.now());
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'auth.switch_tenant',
      targetType: 'session',
      targetId: previous,
      details: { toTenantId: tenantId },
    });
  });
  return result;
}

/** Audits the failure and, when it makes the account wait, that it did (`auth.login_throttled`). */
async function recordFailedLogin(
  deps: Deps,
  origin: RequestOrigin,
  email: string,
  userId: string | undefined,
  attempt: SignInAttempt,
): Promise<void> {
  const shown = email.slice(0, 320);
  const events: AuditEvent[] = [
    { action: 'auth.login_failed', targetType: 'user', details: { email: shown } },
  ];
  if (attempt.delaySeconds > 0) {
    events.push({
      action: 'auth.login_throttled',
      targetType: 'user',
      details: {
        email: shown,
        failures: attempt.failures,
        retryAfterSeconds: attempt.delaySeconds,
        familiarAddress: isFromFamiliarAddress(attempt),
      },
    });
  }
  const actor = { type: 'anonymous' as const, label: shown };
  // Each tenant the account belongs to sees attempts on it; with no tenant to show
  // them to (an unknown address, an account of no tenant) they are kept at instance level.
  const memberships = userId ? await listMembershipsOfUser(deps.db, userId) : [];
  const tenants = memberships.length > 0 ? memberships.map((m) => m.tenant_id) : [null];
  await deps.db.transaction(async (tx) => {
    for (const tenantId of tenants) {
      for (const event of events) {
        await recordAnonymousAudit(tx, deps.clock, tenantId, actor, origin, {
          ...event,
          ...(userId ? { targetId: userId } : {}),
        });
      }
    }
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
  cache?: AuthCache,
): Promise<Principal | null> {
  if (token.length === 0 || token.length > 200) return null;
  const hash = sha256Hex(token);
  const load = () => findSessionByHash(db, hash);
  const session = await (cache ? cache.lookup(`session:${hash}`, load) : load());
  const now = clock.now();
  if (!session || session.revoked_at || session.expires_at <= now || !session.role) return null;
  if (now.getTime() - session.last_seen_at.getTime() > 60_000) {
    await touchSession(db, session.id, now);
    // The kept row too, so the next request does not write again.
    session.last_seen_at = now;
  }
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
    tenant: { name: session.tenant_name, slug: session.tenant_slug },
  };
}

/**
 * The `sessions.cleanup` job: removes sessions that have expired or were revoked,
 * and sign-in counts that no longer matter.
 */
export async function cleanupSessions(deps: Pick<Deps, 'db' | 'clock' | 'log'>): Promise<number> {
  const deleted = await deleteDeadSessions(deps.db, deps.clock.now());
  if (deleted > 0) deps.log.info({ deleted }, 'removed expired sessions');
  const throttles = await cleanupSignInThrottles(deps);
  if (throttles > 0) deps.log.info({ deleted: throttles }, 'removed stale sign-in counts');
  return deleted;
}
