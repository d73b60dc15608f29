import type { Permission, Role } from './members/roles.ts';

/** Who is calling, resolved once per request from a session cookie or an API key. */
export interface Principal {
  kind: 'user' | 'api_key';
  tenantId: string;
  /** The signed-in user, or the user who created the API key. */
  userId: string | null;
  apiKeyId: string | null;
  sessionId: string | null;
  role: Role;
  permissions: ReadonlySet<Permission>;
  isInstanceAdmin: boolean;
  /** E-mail of the user or name of the key, for the audit log. */
  label: string;
  /** The tenant's name and slug, as read with the credential. */
  tenant?: { name: string; slug: string };
}

/** Where a request came from, recorded with audited actions. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}
