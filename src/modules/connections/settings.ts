import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { Invalid } from '../../lib/errors.ts';
import type { ConnectionType, StoredConfig } from './repo.ts';

// Turns what a user sends for a connection into the clear part (stored as JSON,
// shown back) and the secret part (encrypted, never shown): the password, or a
// whole URL since URLs carry passwords.

export interface ConnectionInput {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  user?: string | undefined;
  /** Write-only. Omitted on update: keep the stored one; null: remove it. */
  password?: string | null | undefined;
  ssl?: boolean | undefined;
  path?: string | undefined;
}

export interface SecretPart {
  password?: string;
  url?: string;
}

const defaultPorts: Partial<Record<ConnectionType, number>> = { postgres: 5432, mysql: 3306 };
const urlSchemes: Partial<Record<ConnectionType, string[]>> = {
  postgres: ['postgres:', 'postgresql:'],
  mysql: ['mysql:', 'mariadb:'],
};

export interface NormalizedConnection {
  config: StoredConfig;
  secret: SecretPart | null;
}

export function normalizeServerConnection(
  type: 'postgres' | 'mysql',
  input: ConnectionInput,
  previous?: { config: StoredConfig; secret: SecretPart | null },
): NormalizedConnection {
  if (input.url !== undefined) {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw Invalid.field('config.url', 'is not a valid URL');
    }
    if (!urlSchemes[type]!.includes(url.protocol)) {
      throw Invalid.field(
        'config.url',
        `must start with ${urlSchemes[type]!.map((s) => `${s}//`).join(' or ')}`,
      );
    }
    if (!url.hostname) throw Invalid.field('config.url', 'must name a host');
    for (const field of ['host', 'port', 'database', 'user'] as const) {
      if (input[field] !== undefined)
        throw Invalid.field(`config.${field}`, 'cannot be combined with config.url');
    }
    return {
      config: {
        form: 'url',
        host: url.hostname,
        port: url.port ? Number(url.port) : defaultPorts[type]!,
        database: decodeURIComponent(url.pathname.replace(/^\//, '')),
        user: decodeURIComponent(url.username),
        ssl: input.ssl ?? /sslmode=(require|verify)/.test(url.search),
      },
      secret: { url: url.toString() },
    };
  }
  const base = previous?.config.form === 'fields' ? previous.config : {};
  const host = input.host ?? base.host;
  const database = input.database ?? base.database;
  if (!host) throw Invalid.field('config.host', 'is required (or give config.url)');
  if (!database) throw Invalid.field('config.database', 'is required');
  const password = input.password === undefined ? previous?.secret?.password : (input.password ?? undefined);
  return {
    config: {
      form: 'fields',
      host,
      port: input.port ?? base.port ?? defaultPorts[type]!,
      database,
      user: input.user ?? base.user ?? '',
      ssl: input.ssl ?? base.ssl ?? false,
    },
    secret: password === undefined ? null : { password },
  };
}

/** A SQLite path must resolve (after links) to an existing file inside the operator's directory. */
export async function resolveSqlitePath(path: string | undefined, sqliteDir: string): Promise<string> {
  if (!path) throw Invalid.field('config.path', 'is required');
  const candidate = isAbsolute(path) ? path : resolve(sqliteDir, path);
  let real: string;
  let realDir: string;
  try {
    realDir = await realpath(sqliteDir);
  } catch {
    throw Invalid.field(
      'config.path',
      `SQLite files must be in ${sqliteDir} (FERRY_SQLITE_DIR), which does not exist`,
    );
  }
  // One answer for "missing" and "outside", so the check cannot be used to probe the server's files.
  const refuse = () =>
    Invalid.field('config.path', `must name an existing file inside ${sqliteDir} (FERRY_SQLITE_DIR)`);
  try {
    real = await realpath(candidate);
  } catch {
    throw refuse();
  }
  const rel = relative(realDir, real);
  if (rel.startsWith('..') || isAbsolute(rel) || rel === '') throw refuse();
  return rel;
}

/** The URL without its password, for display. */
export function maskUrl(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}
