import type { Tx } from '../../db/db.ts';
import { Conflict, Invalid, NotFound } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import { hashPassword } from '../../lib/passwords.ts';
import { randomToken } from '../../lib/secrets.ts';
import { issueApiKey } from '../api-keys/service.ts';
import { recordAnonymousAudit, recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import { provisionDemoConnection } from '../connections/service.ts';
import type { Deps } from '../deps.ts';
import { insertMembership } from '../members/repo.ts';
import { provisionExampleSchedule } from '../schedules/example.ts';
import { findUserByEmail, insertUser } from '../users/repo.ts';
import { presentTenant, type TenantView } from './present.ts';
import {
  getTenantLimits,
  insertTenant,
  isSlugTaken,
  listTenants,
  setTenantLimits,
  type TenantLimits,
} from './repo.ts';

export interface NewTenantInput {
  tenantName: string;
  email: string;
  password?: string | undefined;
  ownerName?: string | undefined;
}

export interface NewTenantResult {
  tenantId: string;
  userId: string;
  apiKey: string;
  apiKeyId: string;
}

/** Who asked for the tenant: the first-run setup, the CLI, or an instance admin over the API. */
export type TenantCreator =
  | { kind: 'setup' | 'cli' }
  | { kind: 'admin'; actor: Principal; origin: RequestOrigin };

function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return base || 'tenant';
}

async function uniqueSlug(tx: Tx, name: string): Promise<string> {
  const base = slugify(name);
  if (!(await isSlugTaken(tx, base))) return base;
  for (;;) {
    const candidate = `${base}-${randomToken(3)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;
    if (!(await isSlugTaken(tx, candidate))) return candidate;
  }
}

/**
 * Creates a tenant, its owner (a new user, or an existing one found by e-mail)
 * and an owner API key, in the caller's transaction. The first user of an
 * instance becomes its instance admin.
 */
export async function createTenantWithOwner(
  tx: Tx,
  deps: Pick<Deps, 'clock'>,
  input: NewTenantInput,
  creator: TenantCreator,
  options: { isFirstUser?: boolean } = {},
): Promise<NewTenantResult> {
  const tenantId = newId();
  await insertTenant(tx, {
    id: tenantId,
    name: input.tenantName.trim(),
    slug: await uniqueSlug(tx, input.tenantName),
  });
  let user = await findUserByEmail(tx, input.email);
  if (!user) {
    if (!input.password) throw Invalid.field('password', 'is required for a new user');
    user = await insertUser(tx, {
      id: newId(),
      email: input.email.trim(),
      name: input.ownerName?.trim() ?? '',
      passwordHash: await hashPassword(input.password),
      isInstanceAdmin: options.isFirstUser === true,
    });
  }
  if (!(await insertMembership(tx, tenantId, user.id, 'owner')))
    throw new Conflict('The owner is already a member');
  const demoConnectionId = await provisionDemoConnection(tx, tenantId);
  await provisionExampleSchedule(tx, { tenantId, ownerId: user.id, demoConnectionId, now: deps.clock.now() });
  const key = await issueApiKey(tx, {
    tenantId,
    name: 'Owner key',
    role: 'owner',
    isInstanceAdmin: options.isFirstUser === true,
    createdBy: user.id,
    expiresAt: null,
  });
  const events = [
    {
      action: 'tenant.created',
      targetType: 'tenant',
      targetId: tenantId,
      details: { name: input.tenantName, via: creator.kind },
    },
    {
      action: 'member.added',
      targetType: 'user',
      targetId: user.id,
      details: { email: user.email, role: 'owner' },
    },
    {
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: key.view.id,
      details: { name: key.view.name, role: 'owner', prefix: key.view.prefix },
    },
  ];
  for (const event of events) {
    if (creator.kind === 'admin') {
      await recordAudit(tx, deps.clock, creator.actor, creator.origin, event, tenantId);
    } else {
      await recordAnonymousAudit(
        tx,
        deps.clock,
        tenantId,
        { type: 'system', label: creator.kind },
        { ip: null, userAgent: null },
        event,
      );
    }
  }
  return { tenantId, userId: user.id, apiKey: key.secret, apiKeyId: key.view.id };
}

export async function createTenantAsAdmin(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  input: NewTenantInput,
): Promise<NewTenantResult> {
  return deps.db.transaction((tx) =>
    createTenantWithOwner(tx, deps, input, { kind: 'admin', actor, origin }),
  );
}

export async function listAllTenants(
  deps: Deps,
  q: { cursor?: string | undefined; limit: number },
): Promise<Page<TenantView>> {
  const cursor = decodeCursor(q.cursor, { id: 'uuid' });
  const rows = await listTenants(deps.db, cursor?.id, q.limit + 1);
  return toPage(rows, q.limit, presentTenant, (r) => ({ id: r.id }));
}

export interface LimitsView {
  maxExportRows: number | null;
  maxExportBytes: number | null;
  maxRunSeconds: number | null;
  effective: { maxExportRows: number; maxExportBytes: number; maxRunSeconds: number };
}

function limitsView(deps: Deps, l: TenantLimits): LimitsView {
  return {
    ...l,
    effective: {
      maxExportRows: l.maxExportRows ?? deps.config.maxExportRows,
      maxExportBytes: l.maxExportBytes ?? deps.config.maxExportBytes,
      maxRunSeconds: l.maxRunSeconds ?? deps.config.maxRunSeconds,
    },
  };
}

/** The limits a tenant's exports run under: its own where set, the instance's otherwise. */
export async function effectiveLimits(deps: Deps, tenantId: string): Promise<LimitsView['effective']> {
  const l = await getTenantLimits(deps.db, tenantId);
  return limitsView(deps, l ?? { maxExportRows: null, maxExportBytes: null, maxRunSeconds: null }).effective;
}

export async function getLimits(deps: Deps, tenantId: string): Promise<LimitsView> {
  const l = await getTenantLimits(deps.db, tenantId);
  if (!l) throw new NotFound('Tenant');
  return limitsView(deps, l);
}

export async function updateLimits(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  tenantId: string,
  limits: TenantLimits,
): Promise<LimitsView> {
  await deps.db.transaction(async (tx) => {
    if (!(await setTenantLimits(tx, tenantId, limits))) throw new NotFound('Tenant');
    await recordAudit(
      tx,
      deps.clock,
      actor,
      origin,
      { action: 'tenant.limits_changed', targetType: 'tenant', targetId: tenantId, details: { ...limits } },
      tenantId,
    );
  });
  return getLimits(deps, tenantId);
}
