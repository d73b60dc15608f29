import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { SslMode } from '../../engine/sources/tls.ts';
import { Invalid } from '../../lib/errors.ts';
import { type OptionEffect, type OptionValue, readOption, type ServerType } from './driver-options.ts';
import type { StoredConfig } from './repo.ts';
import { hasTlsMaterial, mergeTls, type TlsInput, type TlsSettings } from './tls-settings.ts';

// Turns what a user sends for a connection into the clear part (stored as JSON,
// shown back) and the secret part (sealed, never shown). A URL is parsed here and
// only its validated parts are kept: no driver ever sees a tenant's URL, so an
// option the allow-list does not know (driver-options.ts) cannot reach it.

export interface ConnectionInput {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  database?: string | undefined;
  user?: string | undefined;
  /** Write-only. Omitted on update: keep the stored one; null: remove it. */
  password?: string | null | undefined;
  ssl?: boolean | undefined;
  sslmode?: SslMode | undefined;
  tls?: TlsInput | null | undefined;
  /** Driver options of the field form, through the same allow-list as a URL's query. */
  options?: Record<string, OptionValue> | undefined;
  path?: string | undefined;
}

/** Sealed: the password, the TLS client key and its passphrase. */
export interface SecretPart {
  password?: string;
  tlsKey?: string;
  tlsPassphrase?: string;
  /** Rows saved before URLs were parsed: the whole URL (read through the same rules). */
  url?: string;
}

/** What the operator allows (config.ts). */
export interface SettingsPolicy {
  allowSockets: boolean;
}

export interface NormalizedConnection {
  config: StoredConfig;
  secret: SecretPart | null;
}

const defaultPorts: Record<ServerType, number> = { postgres: 5432, mysql: 3306 };
const urlSchemes: Record<ServerType, string[]> = {
  postgres: ['postgres:', 'postgresql:'],
  mysql: ['mysql:', 'mariadb:'],
};
const HOST = /^([A-Za-z0-9_]([A-Za-z0-9_.-]*)|[0-9A-Fa-f:.]+(%[A-Za-z0-9]+)?)$/;
const SOCKET_PATH = /^\/[A-Za-z0-9._/-]+$/;

/**
 * A host must be a TCP host name or address. A unix socket (a path, or a Linux
 * abstract "@name") reaches files and servers of the Ferry host itself: only
 * where the operator allows it (FERRY_ALLOW_SOCKETS), and never abstract ones.
 */
export function checkHost(host: string, path: string, policy: SettingsPolicy, what = 'host'): void {
  if (host.startsWith('@'))
    throw Invalid.field(path, `${what} "${host}" is an abstract unix socket, which Ferry does not support`);
  if (host.startsWith('/')) {
    if (!policy.allowSockets)
      throw Invalid.field(
        path,
        `${what} is a unix socket path; this Ferry connects to TCP hosts only (the operator can allow sockets with FERRY_ALLOW_SOCKETS=true)`,
      );
    if (!SOCKET_PATH.test(host) || host.split('/').includes('..'))
      throw Invalid.field(path, `${what} must be an absolute socket path without ".."`);
    return;
  }
  if (!HOST.test(host)) throw Invalid.field(path, `${what} must be a host name or IP address`);
}

interface Parsed {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | undefined;
  options: Record<string, string | number>;
  modes: Array<{ effect: OptionEffect & { kind: 'sslmode' | 'ssl' }; path: string }>;
  passphrase: string | undefined;
  /** The URL as given, without its secrets: shown back, never used to connect. */
  shown?: string;
}

/** Applies allowed options to what is being built. */
function applyOptions(
  type: ServerType,
  entries: Array<[string, OptionValue]>,
  into: Parsed,
  place: { inUrl: boolean; path: (name: string) => string },
  policy: SettingsPolicy,
): void {
  for (const [name, value] of entries) {
    const path = place.path(name);
    const effect = readOption(type, name, value, { path, inUrl: place.inUrl });
    if (effect.kind === 'option') into.options[effect.name] = effect.value;
    else if (effect.kind === 'sslmode' || effect.kind === 'ssl') into.modes.push({ effect, path });
    else if (effect.kind === 'passphrase') into.passphrase = effect.value;
    else {
      checkHost(effect.path, path, policy, `option ${name}`);
      if (into.host && into.host !== 'localhost')
        throw Invalid.field(path, `option ${name} names a socket, so the URL must not name a host`);
      into.host = effect.path;
    }
  }
}

function parseUrl(type: ServerType, text: string, policy: SettingsPolicy): Parsed {
  let url: URL;
  // postgres://user@/db?host=/run/postgresql (a socket) has no host, which URL refuses.
  const noHost = /^[a-z]+:\/\/[^/@]*@\//i.test(text);
  try {
    url = new URL(noHost ? text.replace('@/', '@localhost/') : text);
  } catch {
    throw Invalid.field('config.url', 'is not a valid URL');
  }
  if (!urlSchemes[type].includes(url.protocol))
    throw Invalid.field(
      'config.url',
      `must start with ${urlSchemes[type].map((s) => `${s}//`).join(' or ')}`,
    );
  if (url.hash) throw Invalid.field('config.url', 'must not have a #fragment');
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw Invalid.field('config.url', `has a badly escaped ${what}`);
    }
  };
  const database = decode(url.pathname.replace(/^\//, ''), 'database');
  if (database.includes('/')) throw Invalid.field('config.url', 'the path must be the database name only');
  const parsed: Parsed = {
    host: noHost ? '' : decode(url.hostname, 'host').replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : defaultPorts[type],
    database,
    user: decode(url.username, 'user'),
    password: decode(url.password, 'password') || undefined,
    options: {},
    modes: [],
    passphrase: undefined,
  };
  if (parsed.host) checkHost(parsed.host, 'config.url', policy);
  const names = [...url.searchParams.keys()];
  for (const name of new Set(names))
    if (names.filter((n) => n === name).length > 1)
      throw Invalid.field('config.url', `option ${name} is given more than once`);
  applyOptions(type, [...url.searchParams], parsed, { inUrl: true, path: () => 'config.url' }, policy);
  if (!parsed.host) throw Invalid.field('config.url', 'must name a host');
  const shown = new URL(url);
  shown.password = '';
  if (shown.searchParams.has('sslpassword')) shown.searchParams.delete('sslpassword');
  parsed.shown = noHost ? shown.toString().replace('@localhost/', '@/') : shown.toString();
  return parsed;
}

/** One SSL mode from every place that may state it; where two disagree, the later is named. */
function resolveMode(
  claims: Array<{ effect: OptionEffect & { kind: 'sslmode' | 'ssl' }; path: string }>,
  fallback: SslMode,
): SslMode {
  let mode: SslMode | undefined;
  let on: boolean | undefined;
  for (const { effect, path } of claims) {
    if (effect.kind === 'sslmode') {
      if (mode !== undefined && mode !== effect.mode)
        throw Invalid.field(path, `sslmode ${effect.mode} contradicts sslmode ${mode} given elsewhere`);
      mode = effect.mode;
    } else {
      if (on !== undefined && on !== effect.on)
        throw Invalid.field(path, 'ssl contradicts ssl given elsewhere');
      on = effect.on;
    }
    if (mode !== undefined && on !== undefined && (mode !== 'disable') !== on)
      throw Invalid.field(path, `ssl ${on} contradicts sslmode ${mode}`);
  }
  return mode ?? (on === undefined ? fallback : on ? 'require' : 'disable');
}

/** The stored SSL mode of a row (older rows kept only `ssl`). */
export function sslModeOf(config: StoredConfig): SslMode {
  return config.sslmode ?? (config.ssl ? 'require' : 'disable');
}

export function normalizeServerConnection(
  type: ServerType,
  input: ConnectionInput,
  previous: { config: StoredConfig; secret: SecretPart | null } | undefined,
  policy: SettingsPolicy,
): NormalizedConnection {
  let parsed: Parsed;
  let fallbackMode: SslMode = 'disable';
  const fieldsGiven = (['host', 'port', 'database', 'user', 'options'] as const).filter(
    (f) => input[f] !== undefined,
  );
  // An update of a URL connection that names no part of it (a new password, TLS,
  // sslmode) keeps its URL, as shown without secrets, and its stored password.
  const keptUrl =
    input.url === undefined && fieldsGiven.length === 0 && previous?.config.form === 'url'
      ? previous.config.url
      : undefined;
  const url = input.url ?? keptUrl;
  if (url !== undefined) {
    if (fieldsGiven[0]) throw Invalid.field(`config.${fieldsGiven[0]}`, 'cannot be combined with config.url');
    parsed = parseUrl(type, url, policy);
    if (parsed.password !== undefined && typeof input.password === 'string')
      throw Invalid.field('config.password', 'the URL has a password already; give it once');
    if (parsed.password === undefined && typeof input.password === 'string') parsed.password = input.password;
    if (keptUrl !== undefined && previous) {
      if (input.password === undefined) parsed.password = previous.secret?.password;
      fallbackMode = sslModeOf(previous.config);
    }
  } else {
    const base = previous?.config.form === 'fields' ? previous.config : {};
    const host = input.host ?? base.host;
    if (!host) throw Invalid.field('config.host', 'is required (or give config.url)');
    checkHost(host, 'config.host', policy);
    // A stored password (or TLS key) is only ever sent to the server it was given for:
    // whoever points the connection elsewhere gives it again.
    const movedTo = (['host', 'port', 'user'] as const).find(
      (f) => input[f] !== undefined && input[f] !== base[f],
    );
    if (movedTo && input.password === undefined && previous?.secret?.password)
      throw Invalid.field('config.password', `give the password again when config.${movedTo} changes`);
    parsed = {
      host,
      port: input.port ?? base.port ?? defaultPorts[type],
      database: input.database ?? base.database ?? '',
      user: input.user ?? base.user ?? '',
      password: input.password === undefined ? previous?.secret?.password : (input.password ?? undefined),
      options: input.options === undefined ? { ...base.options } : {},
      modes: [],
      passphrase: undefined,
    };
    if (input.options !== undefined)
      applyOptions(
        type,
        Object.entries(input.options),
        parsed,
        { inUrl: false, path: (name) => `config.options.${name}` },
        policy,
      );
    // Kept unless stated again.
    if (base.form) fallbackMode = sslModeOf(base);
  }
  if (!parsed.database)
    throw Invalid.field(url !== undefined ? 'config.url' : 'config.database', 'must name a database');
  // Without a user, the drivers would take the Ferry host's (its OS user, PGUSER).
  if (!parsed.user) throw Invalid.field(url !== undefined ? 'config.url' : 'config.user', 'must name a user');

  const previousTls: TlsSettings = {
    public: previous?.config.tls ?? {},
    key: previous?.secret?.tlsKey,
    passphrase: previous?.secret?.tlsPassphrase,
  };
  const tls = mergeTls(input.tls, previousTls, { passphrase: parsed.passphrase });
  if (type === 'mysql' && tls.public.servername !== undefined)
    throw Invalid.field('config.tls.servername', 'applies to PostgreSQL only (MySQL checks the host name)');
  const claims = [
    ...parsed.modes,
    ...(input.ssl !== undefined
      ? [{ effect: { kind: 'ssl' as const, on: input.ssl }, path: 'config.ssl' }]
      : []),
    ...(input.sslmode !== undefined
      ? [{ effect: { kind: 'sslmode' as const, mode: input.sslmode }, path: 'config.sslmode' }]
      : []),
  ];
  const sslmode = resolveMode(
    claims,
    hasTlsMaterial(tls) && fallbackMode === 'disable' ? 'require' : fallbackMode,
  );
  if (sslmode === 'disable' && hasTlsMaterial(tls))
    throw Invalid.field('config.tls', 'is given, but sslmode is disable');
  if (sslmode === 'verify-ca' && tls.public.ca === undefined)
    throw Invalid.field(
      'config.tls.ca',
      'is required with sslmode verify-ca (or use verify-full, which also checks the host name against the system authorities)',
    );

  const secret: SecretPart = {
    ...(parsed.password !== undefined ? { password: parsed.password } : {}),
    ...(tls.key !== undefined ? { tlsKey: tls.key } : {}),
    ...(tls.passphrase !== undefined ? { tlsPassphrase: tls.passphrase } : {}),
  };
  return {
    config: {
      form: url !== undefined ? 'url' : 'fields',
      ...(parsed.shown ? { url: parsed.shown } : {}),
      host: parsed.host,
      port: parsed.port,
      database: parsed.database,
      user: parsed.user,
      ssl: sslmode !== 'disable',
      sslmode,
      ...(Object.keys(parsed.options).length > 0 ? { options: parsed.options } : {}),
      ...(hasTlsMaterial(tls) ? { tls: tls.public } : {}),
    },
    secret: Object.keys(secret).length > 0 ? secret : null,
  };
}

/**
 * A row saved before URLs were parsed keeps its whole URL sealed: it is read
 * through the same rules each time, so an option refused now is refused for it too.
 */
export function readLegacyUrl(
  type: ServerType,
  config: StoredConfig,
  url: string,
  policy: SettingsPolicy,
): NormalizedConnection {
  const statesMode = /[?&](sslmode|ssl|ssl-mode|sslMode)=/.test(url);
  return normalizeServerConnection(
    type,
    { url, ...(statesMode || config.ssl === undefined ? {} : { ssl: config.ssl }) },
    undefined,
    policy,
  );
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
