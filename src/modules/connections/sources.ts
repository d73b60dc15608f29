import { join } from 'node:path';
import type { Db } from '../../db/db.ts';
import { DEMO_SCHEMA } from '../../demo/dataset.ts';
import { type DemoReaders, ensureTenantReader } from '../../demo/readers.ts';
import { createMysqlSource } from '../../engine/sources/mysql.ts';
import { createPostgresSource } from '../../engine/sources/postgres.ts';
import { createSqliteSource } from '../../engine/sources/sqlite.ts';
import type { SourceTls } from '../../engine/sources/tls.ts';
import type { PrivilegeReport, Source, TableInfo } from '../../engine/sources/types.ts';
import { Unprocessable } from '../../lib/errors.ts';
import type { SecretBox } from '../../lib/secrets.ts';
import type { ConnectionRow, ConnectionType, StoredConfig } from './repo.ts';
import { checkHost, readLegacyUrl, type SecretPart, type SettingsPolicy, sslModeOf } from './settings.ts';

// One Source (with its pool) per connection and version of its settings, kept
// per process and closed after a few idle minutes. The demo data has one source
// per tenant: the tenant's own login role, which can read schema `demo` of
// Ferry's database and nothing else, on a small pool of its own, so one tenant's
// runaway query never waits on or holds another's connections.
//
// Before a version of a connection's settings is first used, its database user's
// privileges are checked once (unless the row says they were, for this version):
// the warnings are recorded, and an administrator account the tenant admin has
// not confirmed is refused.

const IDLE_MS = 5 * 60_000;
const SCHEMA_TTL_MS = 10 * 60_000;

interface Entry {
  source: Source;
  version: number;
  lastUsed: number;
  schema?: { tables: TableInfo[]; at: Date };
  /** This version's privilege check, once started. */
  privileges?: Promise<PrivilegeReport>;
  /** Whether its answer is in the database (stored with the settings, or by a test). */
  isRecorded: boolean;
}

export interface SourcePolicy extends SettingsPolicy {
  sqliteDir: string;
}

export interface SourceRegistry {
  get(row: ConnectionRow): Source;
  schema(row: ConnectionRow, refresh: boolean): Promise<{ tables: TableInfo[]; cachedAt: Date }>;
  /** Asks the server again what the connection's user may do (a test); later uses rely on this answer. */
  checkPrivileges(row: ConnectionRow): Promise<PrivilegeReport>;
  forget(id: string): Promise<void>;
  closeAll(): Promise<void>;
}

export function decryptSecret(
  secrets: SecretBox,
  row: Pick<ConnectionRow, 'id' | 'secret'>,
): SecretPart | null {
  return row.secret ? (JSON.parse(secrets.decrypt(row.secret, `connection:${row.id}`)) as SecretPart) : null;
}

export const NO_PRIVILEGES: PrivilegeReport = { warnings: [], isSuperuser: false };

/** The refusal of an administrator account the tenant admin has not confirmed. */
export function privilegedUserRefused(report: PrivilegeReport): Unprocessable {
  const message = `the database user is an administrator account (${report.warnings[0] ?? 'superuser'}); use a user that can only read, or confirm with allowPrivilegedUser: true`;
  return new Unprocessable(`Connection refused: ${message}`, [{ path: 'allowPrivilegedUser', message }]);
}

/** A source from settings that settings.ts has checked: never a tenant's URL, only its parts. */
export function createServerSource(
  type: 'postgres' | 'mysql',
  stored: StoredConfig,
  storedSecret: SecretPart | null,
  policy: SettingsPolicy,
): Source {
  const { config: c, secret } = storedSecret?.url
    ? readLegacyUrl(type, stored, storedSecret.url, policy)
    : { config: stored, secret: storedSecret };
  // Settings saved while the operator allowed sockets stop working when they no longer are.
  checkHost(c.host ?? '', 'config.host', policy);
  const tls: SourceTls = {
    mode: sslModeOf(c),
    ca: c.tls?.ca,
    cert: c.tls?.cert,
    key: secret?.tlsKey,
    passphrase: secret?.tlsPassphrase,
    servername: c.tls?.servername,
  };
  const o = c.options ?? {};
  const isSocket = c.host?.startsWith('/') ?? false;
  if (type === 'postgres')
    return createPostgresSource({
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.user,
      password: secret?.password,
      tls,
      ...(typeof o['application_name'] === 'string' ? { applicationName: o['application_name'] } : {}),
      ...(typeof o['connect_timeout'] === 'number' ? { connectTimeoutMs: o['connect_timeout'] * 1000 } : {}),
    });
  return createMysqlSource({
    ...(isSocket ? { socketPath: c.host } : { host: c.host, port: c.port }),
    database: c.database,
    user: c.user,
    password: secret?.password,
    tls,
    ...(typeof o['charset'] === 'string' ? { charset: o['charset'] } : {}),
    ...(typeof o['connectTimeout'] === 'number' ? { connectTimeoutMs: o['connectTimeout'] } : {}),
  });
}

export function createSourceFor(
  row: Pick<ConnectionRow, 'id' | 'type' | 'config' | 'secret'> & { type: ConnectionType },
  secrets: SecretBox,
  policy: SourcePolicy,
): Source {
  switch (row.type) {
    case 'postgres':
    case 'mysql':
      return createServerSource(row.type, row.config, decryptSecret(secrets, row), policy);
    case 'sqlite':
      return createSqliteSource(join(policy.sqliteDir, row.config.path ?? ''));
    case 'demo':
      throw new Error('The demo source is shared; use the registry');
  }
}

/** The same source, each use waiting for the version's privilege check first. */
function guarded(source: Source, gate: () => Promise<void>): Source {
  const after =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await gate();
      return fn(...args);
    };
  const copyCsv = source.copyCsv?.bind(source);
  const privileges = source.privileges?.bind(source);
  return {
    dialect: source.dialect,
    test: after(() => source.test()),
    openRows: after(source.openRows.bind(source)),
    ...(copyCsv ? { copyCsv: after(copyCsv) } : {}),
    listTables: after(() => source.listTables()),
    ...(privileges ? { privileges } : {}),
    close: () => source.close(),
  };
}

export function createSourceRegistry(options: {
  /** `ready`: resolves when the demo dataset can be read (it may still be building). */
  demo: { db: Db; readers: DemoReaders; ready?: () => Promise<void> };
  secrets: SecretBox;
  policy: SourcePolicy;
  /** Records a check that a use started (the warnings, an audit entry). */
  onPrivilegesChecked?: (row: ConnectionRow, report: PrivilegeReport) => Promise<void>;
}): SourceRegistry {
  const entries = new Map<string, Entry>();
  // A tenant's reader role, created on its first use of the demo data in this process.
  const readers = new Map<string, Promise<void>>();
  const ensureReader = (tenantId: string): Promise<void> => {
    let ready = readers.get(tenantId);
    if (!ready) {
      ready = ensureTenantReader(options.demo.db, options.demo.readers, tenantId).then(
        () => {},
        (err) => {
          readers.delete(tenantId);
          throw err;
        },
      );
      readers.set(tenantId, ready);
    }
    return ready;
  };
  const demoEntryFor = (row: ConnectionRow): Entry => {
    const key = `demo:${row.tenant_id}`;
    let e = entries.get(key);
    if (!e) {
      const raw = createPostgresSource({
        connectionString: options.demo.readers.forTenant(row.tenant_id).url,
        searchPath: DEMO_SCHEMA,
        schemas: [DEMO_SCHEMA],
        maxConnections: 2,
        applicationName: 'ferry-demo',
      });
      e = {
        // Queries made while the dataset is still building (a first start) wait for it.
        source: guarded(raw, async () => {
          await options.demo.ready?.();
          await ensureReader(row.tenant_id);
        }),
        version: 0,
        lastUsed: Date.now(),
        isRecorded: true,
      };
      entries.set(key, e);
    }
    e.lastUsed = Date.now();
    return e;
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, e] of entries) {
      if (now - e.lastUsed > IDLE_MS) {
        entries.delete(id);
        void e.source.close().catch(() => {});
      }
    }
  }, 60_000);
  sweep.unref();

  /** This version's check, run once; a failed one (the server unreachable) is tried again next time. */
  const check = (e: Entry, raw: Source): Promise<PrivilegeReport> => {
    if (!raw.privileges) return Promise.resolve(NO_PRIVILEGES);
    e.privileges ??= raw.privileges().catch((err) => {
      e.privileges = undefined;
      throw err;
    });
    return e.privileges;
  };

  const entryFor = (row: ConnectionRow): Entry => {
    if (row.type === 'demo') return demoEntryFor(row);
    const version = row.updated_at.getTime();
    let e = entries.get(row.id);
    if (e && e.version !== version) {
      void e.source.close().catch(() => {});
      e = undefined;
    }
    if (!e) {
      const raw = createSourceFor(row, options.secrets, options.policy);
      const isRecorded = row.privileges_checked_at !== null;
      const entry: Entry = { source: raw, version, lastUsed: Date.now(), isRecorded };
      if (isRecorded) entry.privileges = Promise.resolve(storedReport(row));
      entry.source = guarded(raw, async () => {
        const report = await check(entry, raw);
        if (!entry.isRecorded) {
          entry.isRecorded = true;
          await options.onPrivilegesChecked?.(row, report);
        }
        if (report.isSuperuser && !row.allow_privileged_user) throw privilegedUserRefused(report);
      });
      e = entry;
      entries.set(row.id, e);
    }
    e.lastUsed = Date.now();
    return e;
  };

  return {
    get: (row) => entryFor(row).source,
    async schema(row, refresh) {
      const e = entryFor(row);
      if (!refresh && e.schema && Date.now() - e.schema.at.getTime() < SCHEMA_TTL_MS)
        return { tables: e.schema.tables, cachedAt: e.schema.at };
      const tables = (await e.source.listTables()).filter((t) => !(row.type === 'demo' && t.name === 'meta'));
      e.schema = { tables, at: new Date() };
      return { tables, cachedAt: e.schema.at };
    },
    async checkPrivileges(row) {
      const e = entryFor(row);
      if (row.type === 'demo' || !e.source.privileges) return NO_PRIVILEGES;
      const fresh = e.source.privileges();
      e.privileges = fresh;
      // The caller records this answer.
      e.isRecorded = true;
      fresh.catch(() => {
        if (e.privileges !== fresh) return;
        e.privileges = undefined;
        e.isRecorded = false;
      });
      return fresh;
    },
    async forget(id) {
      const e = entries.get(id);
      entries.delete(id);
      await e?.source.close().catch(() => {});
    },
    async closeAll() {
      clearInterval(sweep);
      const all = [...entries.values()];
      entries.clear();
      await Promise.all(all.map((e) => e.source.close().catch(() => {})));
    },
  };
}

/** What the row says of its current settings' privileges. */
function storedReport(row: ConnectionRow): PrivilegeReport {
  return { warnings: row.privilege_warnings, isSuperuser: row.privileged_user };
}
