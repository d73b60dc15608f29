import { createHash, createHmac } from 'node:crypto';
import type { Db } from '../db/db.ts';
import { DEMO_SCHEMA } from './dataset.ts';

// The demo data is schema `demo` in Ferry's own database (embedded or not). User
// SQL reaches it only through login roles of their own, one per tenant, each a
// member of a group role that may read the schema and nothing else. The session
// itself belongs to the tenant's role, so no SQL can switch to Ferry's user or to
// another tenant's reader, and each tenant's queries run on connections of its
// own: one tenant's runaway query holds its own connections, never another's.

export interface DemoReader {
  role: string;
  password: string;
  url: string;
}

export interface DemoReaders {
  /** The NOLOGIN role holding read access to the schema; every tenant's reader is a member. */
  readonly group: string;
  /** The login role of one tenant, its password derived from the instance secret. */
  forTenant(tenantId: string): DemoReader;
}

const hex = (text: string, length: number) =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/** Role names are per database (roles are cluster-wide); passwords are derived, never stored. */
export function demoReaders(databaseUrl: string, secret: string): DemoReaders {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'postgres';
  const group = `ferry_demo_${hex(database, 12)}`;
  return {
    group,
    forTenant(tenantId) {
      const role = `${group}_${hex(tenantId, 16)}`;
      const password = createHmac('sha256', secret)
        .update(`demo-reader:${database}:${tenantId}`)
        .digest('base64url')
        .slice(0, 32);
      const url = new URL(databaseUrl);
      url.username = role;
      url.password = password;
      return { role, password, url: url.toString() };
    },
  };
}

const SAFE_ROLE = /^[a-z0-9_]+$/;
const SAFE_PASSWORD = /^[A-Za-z0-9_-]+$/;

/**
 * The group role and its read access, granted again after every build of the
 * dataset (a rebuild drops and recreates the schema). A group made by an earlier
 * version, when it was the one login role of all tenants, loses its login.
 */
export function demoGroupSql(group: string): string {
  if (!SAFE_ROLE.test(group)) throw new Error('Unsafe demo group name');
  return `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${group}') THEN
    CREATE ROLE ${group} NOLOGIN;
  ELSE
    ALTER ROLE ${group} NOLOGIN PASSWORD NULL;
  END IF;
END $$;
GRANT USAGE ON SCHEMA ${DEMO_SCHEMA} TO ${group};
GRANT SELECT ON ALL TABLES IN SCHEMA ${DEMO_SCHEMA} TO ${group};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${DEMO_SCHEMA} TO ${group};`;
}

function tenantReaderSql(reader: DemoReader, group: string): string {
  if (!SAFE_ROLE.test(reader.role) || !SAFE_ROLE.test(group) || !SAFE_PASSWORD.test(reader.password))
    throw new Error('Unsafe demo reader name or password');
  return `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${reader.role}') THEN
    CREATE ROLE ${reader.role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD '${reader.password}';
  ELSE
    ALTER ROLE ${reader.role} LOGIN PASSWORD '${reader.password}';
  END IF;
END $$;
GRANT ${group} TO ${reader.role};`;
}

const READER_LOCK_KEY = 0x64656d72; // "demr"

/** Creates (or renews the password of) a tenant's reader; processes starting at once do it one at a time. */
export async function ensureTenantReader(
  db: Db,
  readers: DemoReaders,
  tenantId: string,
): Promise<DemoReader> {
  const reader = readers.forTenant(tenantId);
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [READER_LOCK_KEY]);
    await tx.exec(tenantReaderSql(reader, readers.group));
  });
  return reader;
}

/** Drops a database's readers (after the database itself: roles outlive databases). */
export function dropDemoReadersSql(group: string): string {
  if (!SAFE_ROLE.test(group)) throw new Error('Unsafe demo group name');
  return `
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT rolname FROM pg_roles WHERE rolname = '${group}' OR rolname LIKE '${group}\\_%'
           ORDER BY rolname = '${group}' LOOP
    EXECUTE format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;`;
}
