import type pg from 'pg';
import type { PrivilegeReport } from './types.ts';

// What a PostgreSQL login may do beyond reading, in one catalog query: the
// role's attributes, membership in the roles that reach the server's programs
// and files, and write or create privileges on any table, schema or database.
// Ferry only reads (read-only transactions, one statement), so each of these is
// a warning: a reporting connection should not be able to do them at all.

const SERVER_ROLES = {
  pg_execute_server_program: 'can run programs on the database server (member of pg_execute_server_program)',
  pg_read_server_files: 'can read files on the database server (member of pg_read_server_files)',
  pg_write_server_files: 'can write files on the database server (member of pg_write_server_files)',
} as const;

const SAMPLE = 5;

export const PG_PRIVILEGES_SQL = `
WITH writable AS (
  SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'f')
     AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
     AND (has_table_privilege(c.oid, 'DELETE, TRUNCATE, TRIGGER')
          OR has_any_column_privilege(c.oid, 'INSERT, UPDATE'))
)
SELECT r.rolsuper AS superuser,
       r.rolcreaterole AS create_role,
       r.rolcreatedb AS create_db,
       r.rolreplication AS replication,
       ARRAY(SELECT b.rolname::text FROM pg_roles b
              WHERE b.rolname IN (${Object.keys(SERVER_ROLES)
                .map((n) => `'${n}'`)
                .join(', ')})
                AND pg_has_role(current_user, b.oid, 'MEMBER')
              ORDER BY 1) AS server_roles,
       (SELECT count(*) FROM writable)::int AS writable_count,
       ARRAY(SELECT name FROM writable ORDER BY name LIMIT ${SAMPLE}) AS writable_sample,
       ARRAY(SELECT n.nspname::text FROM pg_namespace n
              WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
                AND has_schema_privilege(n.oid, 'CREATE')
              ORDER BY 1) AS create_schemas,
       ARRAY(SELECT d.datname::text FROM pg_database d
              WHERE d.datallowconn AND has_database_privilege(d.oid, 'CREATE')
              ORDER BY 1) AS create_databases
  FROM pg_roles r
 WHERE r.rolname = current_user`;

export interface PgPrivilegeRow {
  superuser: boolean;
  create_role: boolean;
  create_db: boolean;
  replication: boolean;
  server_roles: string[];
  writable_count: number;
  writable_sample: string[];
  create_schemas: string[];
  create_databases: string[];
}

const list = (names: string[]) => names.join(', ');

/** The warnings for one row of PG_PRIVILEGES_SQL. */
export function pgPrivilegeWarnings(row: PgPrivilegeRow): PrivilegeReport {
  if (row.superuser)
    return {
      isSuperuser: true,
      warnings: [
        'connects as a superuser: can read and change everything, run programs and read or write files on the database server',
      ],
    };
  const warnings: string[] = [];
  for (const role of row.server_roles)
    warnings.push(SERVER_ROLES[role as keyof typeof SERVER_ROLES] ?? `is a member of ${role}`);
  if (row.create_role) warnings.push('can create and change roles (CREATEROLE)');
  if (row.create_db) warnings.push('can create databases (CREATEDB)');
  if (row.replication) warnings.push('can stream replication (REPLICATION)');
  if (row.writable_count > 0) {
    const more = row.writable_count > row.writable_sample.length ? ', …' : '';
    warnings.push(
      `can change data (INSERT, UPDATE, DELETE, TRUNCATE or TRIGGER) in ${row.writable_count} table${row.writable_count === 1 ? '' : 's'}: ${list(row.writable_sample)}${more}`,
    );
  }
  if (row.create_schemas.length > 0)
    warnings.push(
      `can create objects in schema${row.create_schemas.length === 1 ? '' : 's'} ${list(row.create_schemas)}`,
    );
  if (row.create_databases.length > 0)
    warnings.push(
      `can create schemas in database${row.create_databases.length === 1 ? '' : 's'} ${list(row.create_databases)}`,
    );
  return { isSuperuser: false, warnings };
}

/** Asks the server what the connected user may do. */
export async function checkPgPrivileges(client: pg.ClientBase): Promise<PrivilegeReport> {
  const r = await client.query<PgPrivilegeRow>(PG_PRIVILEGES_SQL);
  const row = r.rows[0];
  // A login always has a pg_roles row; none means a connection pooler or a server that is not PostgreSQL.
  if (!row) return { isSuperuser: false, warnings: ['Ferry could not read the privileges of this user'] };
  return pgPrivilegeWarnings(row);
}
