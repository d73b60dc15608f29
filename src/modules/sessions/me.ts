import { Type } from 'typebox';
import { NotFound } from '../../lib/errors.ts';
import { RoleSchema } from '../../server/schemas.ts';
import type { Principal } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { getMember, listMembershipsOfUser } from '../members/repo.ts';
import { type Role, rolePermissions } from '../members/roles.ts';
import { getTenant } from '../tenants/repo.ts';
import { getUser } from '../users/repo.ts';

export const MeSchema = Type.Object({
  via: Type.Union([Type.Literal('session'), Type.Literal('api_key'), Type.Null()]),
  user: Type.Union([
    Type.Object({
      id: Type.String(),
      email: Type.String(),
      name: Type.String(),
      instanceAdmin: Type.Boolean(),
    }),
    Type.Null(),
  ]),
  apiKey: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  tenant: Type.Object({ id: Type.String(), name: Type.String(), slug: Type.String() }),
  role: RoleSchema,
  permissions: Type.Array(Type.String()),
  instanceAdmin: Type.Boolean(),
  tenants: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), role: RoleSchema })),
});

export async function describeMe(
  deps: Deps,
  who: { tenantId: string; userId: string | null },
  principal?: Principal,
) {
  // The principal was read with its tenant; an API key shows no user and no
  // other tenants, so a key's /me needs no query at all.
  const tenant = principal?.tenant
    ? { id: who.tenantId, ...principal.tenant }
    : await getTenant(deps.db, who.tenantId);
  if (!tenant) throw new NotFound('Tenant');
  const isKey = principal?.kind === 'api_key';
  const user = who.userId && !isKey ? await getUser(deps.db, who.userId) : undefined;
  const member = who.userId && !principal ? await getMember(deps.db, who.tenantId, who.userId) : undefined;
  const role: Role = principal?.role ?? member?.role ?? 'viewer';
  // An API key speaks for its tenant only; a signed-in user sees all their tenants.
  const tenants = user ? await listMembershipsOfUser(deps.db, user.id) : [];
  return {
    via: principal ? (principal.kind === 'api_key' ? ('api_key' as const) : ('session' as const)) : null,
    user:
      user && principal?.kind !== 'api_key'
        ? { id: user.id, email: user.email, name: user.name, instanceAdmin: user.is_instance_admin }
        : null,
    apiKey:
      principal?.kind === 'api_key' && principal.apiKeyId
        ? { id: principal.apiKeyId, name: principal.label }
        : null,
    tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
    role,
    permissions: [...(principal?.permissions ?? rolePermissions[role])].sort(),
    instanceAdmin: principal?.isInstanceAdmin ?? user?.is_instance_admin ?? false,
    tenants: tenants.map((t) => ({ id: t.tenant_id, name: t.tenant_name, role: t.role })),
  };
}
