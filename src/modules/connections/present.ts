import type { ConnectionRow, StoredConfig } from './repo.ts';
import { readLegacyUrl, type SecretPart, type SettingsPolicy, sslModeOf } from './settings.ts';

export interface ConnectionView {
  id: string;
  name: string;
  type: ConnectionRow['type'];
  config: Record<string, unknown>;
  hasPassword: boolean;
  allowPrivilegedUser: boolean;
  privilegeWarnings: string[];
  privilegesCheckedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A URL for display: no password, no query (an older row's URL that no longer reads). */
function bareUrl(url: string): string {
  const u = new URL(url);
  u.password = '';
  u.search = '';
  return u.toString();
}

function serverConfig(c: StoredConfig, secret: SecretPart | null): Record<string, unknown> {
  const sslmode = sslModeOf(c);
  const tls =
    c.tls || secret?.tlsKey
      ? { tls: { ...c.tls, hasKey: Boolean(secret?.tlsKey), hasPassphrase: Boolean(secret?.tlsPassphrase) } }
      : {};
  if (c.form === 'url' && c.url !== undefined)
    return { url: c.url, ssl: sslmode !== 'disable', sslmode, ...tls };
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    ssl: sslmode !== 'disable',
    sslmode,
    ...(c.options ? { options: c.options } : {}),
    ...tls,
  };
}

/**
 * Never a secret, for any role: not the password (nor a URL with it), not the
 * TLS key or its passphrase. `hasPassword`, `tls.hasKey` and `tls.hasPassphrase`
 * say whether one is stored.
 */
export function presentConnection(
  row: ConnectionRow,
  secret: SecretPart | null,
  policy: SettingsPolicy,
): ConnectionView {
  let config: Record<string, unknown> = {};
  let hasPassword = Boolean(secret?.password);
  if (row.type === 'sqlite') config = { path: row.config.path };
  if (row.type === 'postgres' || row.type === 'mysql') {
    if (secret?.url) {
      // Saved before URLs were parsed: shown as it reads now.
      hasPassword = Boolean(new URL(secret.url).password);
      try {
        const now = readLegacyUrl(row.type, row.config, secret.url, policy);
        config = serverConfig(now.config, now.secret);
      } catch {
        config = { url: bareUrl(secret.url), ssl: row.config.ssl ?? false, sslmode: sslModeOf(row.config) };
      }
    } else config = serverConfig(row.config, secret);
  }
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    config,
    hasPassword,
    allowPrivilegedUser: row.allow_privileged_user,
    privilegeWarnings: row.privilege_warnings,
    privilegesCheckedAt: row.privileges_checked_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
