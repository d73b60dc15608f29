import type { Executor } from '../../db/db.ts';
import type { Clock } from '../../lib/clock.ts';
import { Forbidden, Invalid, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { recordAudit } from '../audit/service.ts';
import type { AuthCache } from '../auth-cache.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { aRole, type Role, roleCovers, rolePermissions } from '../members/roles.ts';
import { type ApiKeyView, presentApiKey } from './present.ts';
import { findApiKeyByHash, getApiKey, insertApiKey, listApiKeys, revokeApiKey, touchApiKey } from './repo.ts';

export const API_KEY_PREFIX = 'fry_';

export interface IssuedKey {
  view: ApiKeyView;
  secret: string;
}

/** Creates a key row and returns the secret; the secret is never stored, only its SHA-256. */
export async function issueApiKey(
  db: Executor,
  k: {
    tenantId: string;
    name: string;
    role: Role;
    isInstanceAdmin: boolean;
    createdBy: string | null;
    expiresAt: Date | null;
  },
): Promise<IssuedKey> {
  const secret = `${API_KEY_PREFIX}${randomToken(32)}`;
  const row = await insertApiKey(db, {
    id: newId(),
    tenantId: k.tenantId,
    name: k.name,
    prefix: secret.slice(0, 12),
    keyHash: sha256Hex(secret),
    role: k.role,
    isInstanceAdmin: k.isInstanceAdmin,
    createdBy: k.createdBy,
    expiresAt: k.expiresAt,
  });
  return { view: presentApiKey(row), secret };
}

export async function createApiKey(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: { name: string; role: Role; expiresAt?: string | undefined; instanceAdmin?: boolean | undefined },
): Promise<IssuedKey> {
  if (!roleCovers(actor.role, input.role)) {
    throw new Forbidden(`${aRole(actor.role)} cannot create a key with role ${input.role}`);
  }
  if (input.instanceAdmin && !actor.isInstanceAdmin) {
    throw new Forbidden('Only an instance admin can create an instance-admin key');
  }
  const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
  if (expiresAt && expiresAt.getTime() <= deps.clock.now().getTime()) {
    throw Invalid.field('expiresAt', 'must be in the future');
  }
  return deps.db.transaction(async (tx) => {
    const issued = await issueApiKey(tx, {
      tenantId: actor.tenantId,
      name: input.name,
      role: input.role,
      isInstanceAdmin: input.instanceAdmin ?? false,
      createdBy: actor.userId,
      expiresAt,
    });
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: issued.view.id,
      details: { name: input.name, role: input.role, prefix: issued.view.prefix },
    });
    return issued;
  });
}

export async function revokeKey(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  id: string,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const key = await getApiKey(tx, actor.tenantId, id);
    if (!key) throw new NotFound('API key');
    if (!roleCovers(actor.role, key.role))
      throw new Forbidden(`${aRole(actor.role)} cannot revoke a key with role ${key.role}`);
    const changed = await revokeApiKey(tx, actor.tenantId, id, deps.clock.now());
    if (changed) {
      await recordAudit(tx, deps.clock, actor, origin, {
        action: 'api_key.revoked',
        targetType: 'api_key',
        targetId: id,
        details: { name: key.name, prefix: key.prefix },
      });
    }
  });
}

export async function listKeys(
  deps: Deps,
  actor: Principal,
  q: { cursor?: string | undefined; limit: number },
): Promise<Page<ApiKeyView>> {
  const cursor = decodeCursor(q.cursor, { id: 'uuid' });
  const rows = await listApiKeys(deps.db, actor.tenantId, cursor?.id, q.limit + 1);
  return toPage(rows, q.limit, presentApiKey, (r) => ({ id: r.id }));
}

export async function getKey(deps: Deps, actor: Principal, id: string): Promise<ApiKeyView> {
  const key = await getApiKey(deps.db, actor.tenantId, id);
  if (!key) throw new NotFound('API key');
  return presentApiKey(key);
}

/** Resolves a bearer key to a principal, or null when it is unknown, revoked or expired. */
export async function authenticateApiKey(
  db: Executor,
  clock: Clock,
  secret: string,
  cache?: AuthCache,
): Promise<Principal | null> {
  if (!secret.startsWith(API_KEY_PREFIX) || secret.length > 200) return null;
  // The lookup is by SHA-256 of the whole key through a unique index: no
  // comparison of secret bytes happens in application code.
  const hash = sha256Hex(secret);
  const load = () => findApiKeyByHash(db, hash);
  const key = await (cache ? cache.lookup(`key:${hash}`, load) : load());
  const now = clock.now();
  if (!key || key.revoked_at || (key.expires_at && key.expires_at <= now)) return null;
  // A key never outlives its creator's rights: it acts with at most the creator's
  // current role, and stops when the creator leaves the tenant.
  if (!key.creator_role) return null;
  const role = roleCovers(key.creator_role, key.role) ? key.role : key.creator_role;
  // Record use at most once a minute: most requests then cost one read, no write.
  if (!key.last_used_at || now.getTime() - key.last_used_at.getTime() > 60_000) {
    await touchApiKey(db, key.id, now);
    // The kept row too, so the next request does not write again.
    key.last_used_at = now;
  }
  return {
    kind: 'api_key',
    tenantId: key.tenant_id,
    userId: key.created_by,
    apiKeyId: key.id,
    sessionId: null,
    role,
    permissions: rolePermissions[role],
    isInstanceAdmin: key.is_instance_admin && key.creator_is_instance_admin === true,
    label: key.name,
    tenant: { name: key.tenant_name, slug: key.tenant_slug },
  };
}
