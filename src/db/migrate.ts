import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db.ts';

// Forward-only numbered SQL migrations. The pending ones run in one transaction
// that first takes a transaction-scoped advisory lock, so any number of processes
// can start at once: the others wait, then find them applied. One transaction: an
// upgrade applies all its migrations or none, and a first start commits (and
// syncs to disk) once instead of once per migration. A database that is up to
// date costs one read.
// This file imports no application code.

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
// An arbitrary constant shared by every Ferry process ("ferry" in ASCII).
const MIGRATION_LOCK_KEY = 0x6665727279;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    migrations.push({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: await readFile(join(dir, file), 'utf8'),
    });
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration ${m.version}_${m.name} is out of sequence`);
  });
  return migrations;
}

const createTable = `CREATE TABLE IF NOT EXISTS ferry_migrations (
  version int PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export interface MigrateResult {
  applied: string[];
  current: number;
}

export async function migrate(db: Db, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const before = await migrationState(db, all);
  const pending = !before.isUpToDate && !before.newerThanCode;
  const applied = !pending
    ? []
    : await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        await tx.exec(createTable);
        const done = await tx.query<{ version: number }>('SELECT version FROM ferry_migrations');
        const present = new Set(done.rows.map((r) => r.version));
        const names: string[] = [];
        for (const migration of all) {
          if (present.has(migration.version)) continue;
          await tx.query('INSERT INTO ferry_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          await tx.exec(migration.sql);
          names.push(`${String(migration.version).padStart(4, '0')}_${migration.name}`);
        }
        return names;
      });
  // Read again only when another process may have moved it on meanwhile.
  const state = pending ? await migrationState(db, all) : before;
  if (state.newerThanCode) {
    throw new Error(
      `The database is at migration ${state.current}, newer than this Ferry (${all.length}); upgrade Ferry instead of downgrading`,
    );
  }
  return { applied, current: state.current };
}

export interface MigrationState {
  current: number;
  latest: number;
  isUpToDate: boolean;
  newerThanCode: boolean;
}

export async function migrationState(db: Db, migrations?: Migration[]): Promise<MigrationState> {
  const latest = (migrations ?? (await loadMigrations())).length;
  const exists = await db.query<{ present: boolean }>(
    "SELECT to_regclass('ferry_migrations') IS NOT NULL AS present",
  );
  let current = 0;
  if (exists.rows[0]?.present) {
    const row = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM ferry_migrations');
    current = row.rows[0]?.v ?? 0;
  }
  return { current, latest, isUpToDate: current === latest, newerThanCode: current > latest };
}
