import type { ConnectionRow } from './repo.ts';
import { maskUrl, type SecretPart } from './settings.ts';

export interface ConnectionView {
  id: string;
  name: string;
  type: ConnectionRow['type'];
  config: Record<string, unknown>;
  hasPassword: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Never the password, nor a URL with it: `hasPassword` says whether one is stored. */
export function presentConnection(row: ConnectionRow, secret: SecretPart | null): ConnectionView {
  const c = row.config;
  let config: Record<string, unknown> = {};
  if (row.type === 'sqlite') config = { path: c.path };
  if (row.type === 'postgres' || row.type === 'mysql') {
    config = secret?.url
      ? { url: maskUrl(secret.url), ssl: c.ssl ?? false }
      : { host: c.host, port: c.port, database: c.database, user: c.user, ssl: c.ssl ?? false };
  }
  const hasPassword = Boolean(secret?.password || (secret?.url && new URL(secret.url).password));
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    config,
    hasPassword,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
