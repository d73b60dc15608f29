import type { Role } from '../members/roles.ts';
import type { ApiKeyRow } from './repo.ts';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  instanceAdmin: boolean;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** The key's metadata; the secret and its hash never leave the service. */
export function presentApiKey(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    instanceAdmin: row.is_instance_admin,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}
