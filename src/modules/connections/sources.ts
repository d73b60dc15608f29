import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { DEMO_READER_ROLE, DEMO_SCHEMA } from '../../demo/dataset.ts';
import { createMysqlSource } from '../../engine/sources/mysql.ts';
import { createPgliteDemoSource } from '../../engine/sources/pglite-demo.ts';
import { createPgliteDemoProcessSource } from '../../engine/sources/pglite-demo-process.ts';
import { createPostgresSource } from '../../engine/sources/postgres.ts';
import { createSqliteSource } from '../../engine/sources/sqlite.ts';
import type { Source, TableInfo } from '../../engine/sources/types.ts';
import type { SecretBox } from '../../lib/secrets.ts';
import type { ConnectionRow } from './repo.ts';
import type { SecretPart } from './settings.ts';

// One Source (with its pool) per connection and version of its settings, kept
// per process and closed after a few idle minutes. The demo source is shared by
// all tenants: a PGlite instance of its own on the embedded database, or on
// PostgreSQL a login role that can read schema `demo` and nothing else.

const IDLE_MS = 5 * 60_000;
const SCHEMA_TTL_MS = 10 * 60_000;

interface Entry {
  source: Source;
  version: number;
  lastUsed: number;
  schema?: { tables: TableInfo[]; at: Date };
}

export interface SourceRegistry {
  get(row: ConnectionRow): Source;
  schema(row: ConnectionRow, refresh: boolean): Promise<{ tables: TableInfo[]; cachedAt: Date }>;
  forget(id: string): Promise<void>;
  closeAll(): Promise<void>;
}

export function decryptSecret(
  secrets: SecretBox,
  row: Pick<ConnectionRow, 'id' | 'secret'>,
): SecretPart | null {
  return row.secret ? (JSON.parse(secrets.decrypt(row.secret, `connection:${row.id}`)) as SecretPart) : null;
}

export function createSourceFor(row: ConnectionRow, secrets: SecretBox, sqliteDir: string): Source {
  const secret = decryptSecret(secrets, row);
  const c = row.config;
  switch (row.type) {
    case 'postgres':
      return secret?.url
        ? createPostgresSource({ connectionString: secret.url, ssl: c.ssl })
        : createPostgresSource({
            host: c.host,
            port: c.port,
            database: c.database,
            user: c.user,
            password: secret?.password,
            ssl: c.ssl,
          });
    case 'mysql':
      return secret?.url
        ? createMysqlSource({ uri: secret.url.replace(/^mariadb:/, 'mysql:'), ssl: c.ssl })
        : createMysqlSource({
            host: c.host,
            port: c.port,
            database: c.database,
            user: c.user,
            password: secret?.password,
            ssl: c.ssl,
          });
    case 'sqlite':
      return createSqliteSource(join(sqliteDir, c.path ?? ''));
    case 'demo':
      throw new Error('The demo source is shared; use the registry');
  }
}

export function createSourceRegistry(options: {
  demo: { pglite?: PGlite; reader?: { url: string }; host?: { dataDir?: string; dumpPath?: string } };
  secrets: SecretBox;
  sqliteDir: string;
}): SourceRegistry {
  const entries = new Map<string, Entry>();
  const demo: Source = options.demo.host
    ? createPgliteDemoProcessSource({ ...options.demo.host, role: DEMO_READER_ROLE, schema: DEMO_SCHEMA })
    : options.demo.pglite
      ? createPgliteDemoSource(options.demo.pglite, DEMO_READER_ROLE, DEMO_SCHEMA)
      : createPostgresSource({
          connectionString: options.demo.reader!.url,
          searchPath: DEMO_SCHEMA,
          schemas: [DEMO_SCHEMA],
          maxConnections: 4,
        });
  const demoEntry: Entry = { source: demo, version: 0, lastUsed: Date.now() };

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

  const entryFor = (row: ConnectionRow): Entry => {
    if (row.type === 'demo') return demoEntry;
    const version = row.updated_at.getTime();
    let e = entries.get(row.id);
    if (e && e.version !== version) {
      void e.source.close().catch(() => {});
      e = undefined;
    }
    if (!e) {
      e = { source: createSourceFor(row, options.secrets, options.sqliteDir), version, lastUsed: Date.now() };
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
    async forget(id) {
      const e = entries.get(id);
      entries.delete(id);
      await e?.source.close().catch(() => {});
    },
    async closeAll() {
      clearInterval(sweep);
      const all = [...entries.values()];
      entries.clear();
      await Promise.all([...all.map((e) => e.source.close().catch(() => {})), demo.close().catch(() => {})]);
    },
  };
}
