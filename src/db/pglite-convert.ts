import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type Logger, scrubUrl } from '../lib/log.ts';

// One-time conversion of an old Ferry's embedded PGlite database into PostgreSQL.
//
// The schema comes from pg_dump (compiled to WASM, run against PGlite) in two
// sections: pre-data (types, functions, tables) and post-data (indexes,
// constraints, foreign keys, triggers). The rows are not taken from the dump:
// pglite-tools forces --inserts and then deletes every line of the dump that
// starts with \restrict or \unrestrict, which silently cuts such a line out of a
// multi-line text value. Rows travel instead as COPY text format (newlines
// escaped), table by table, between the two sections: that is lossless for every
// type and needs no triggers or foreign keys yet. Everything is loaded in one
// transaction, so a failure leaves the target as it was.

export interface ConversionResult {
  converted: boolean;
  tables: number;
  rows: number;
  backupDir?: string;
  ms: number;
}

// Every Ferry release that embedded PGlite pinned 0.5.16, whose server is PostgreSQL 18.
const PGLITE_PG_MAJOR = '18';
// Distinct from the migration lock: a second process starting at the same time
// waits here, then finds the directory gone and does nothing.
const CONVERSION_LOCK_KEY = 0x66657272790c;
// Written in the load's transaction, so a committed load is recognisable as ours.
const MARKER = 'Converted from a PGlite data directory by Ferry';
const DUMP_ARGS = ['--no-owner', '--no-privileges', '--exclude-schema=demo'];
const SKIPPED_SCHEMAS = `n.nspname NOT IN ('information_schema', 'demo') AND n.nspname NOT LIKE 'pg\\_%'`;

interface Paths {
  dataDir: string;
  pgdata: string;
  demo: string;
  /** A copy of pgdata that PGlite opens, so the original is never written to. */
  work: string;
  database: string;
}

interface Counts {
  tables: number;
  rows: number;
}

/** Converts <dataDir>/pgdata (PGlite) into the (empty, already created) PostgreSQL database at `url`, once. */
export async function convertPgliteDataDir(options: {
  dataDir: string;
  url: string;
  log: Logger;
}): Promise<ConversionResult> {
  const started = performance.now();
  const paths = pathsFor(options.dataDir, options.url);
  const nothingToDo = () => ({ converted: false, tables: 0, rows: 0, ms: elapsed(started) });
  if (!hasPgdata(paths)) return nothingToDo();

  const client = new pg.Client({ connectionString: options.url });
  // A dropped connection fails the query in progress; it must not crash the process.
  client.on('error', () => {});
  try {
    const counts = await loadOnce(paths, client).catch((err: unknown) => {
      throw unchanged(paths, err);
    });
    if (!counts) return nothingToDo();
    const backupDir = await moveToBackup(paths);
    const ms = elapsed(started);
    options.log.info(
      { ...counts, ms, backupDir, database: paths.database },
      `Converted the PGlite database in ${paths.pgdata} to PostgreSQL (${counts.tables} tables, ${counts.rows} rows, ${ms} ms). The old files are kept in ${backupDir}: delete it when satisfied.`,
    );
    return { converted: true, ...counts, backupDir, ms };
  } finally {
    await client.end().catch(() => {});
  }
}

function pathsFor(dataDir: string, url: string): Paths {
  return {
    dataDir,
    pgdata: join(dataDir, 'pgdata'),
    demo: join(dataDir, 'demo'),
    work: join(dataDir, 'pglite-convert.tmp'),
    database: scrubUrl(url),
  };
}

function hasPgdata(paths: Paths): boolean {
  return existsSync(join(paths.pgdata, 'PG_VERSION'));
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}

/**
 * Loads the data and commits, unless a previous start already committed it and
 * stopped before moving the files. Null when another process converted the
 * directory while this one waited for the lock.
 */
async function loadOnce(paths: Paths, client: pg.Client): Promise<Counts | null> {
  await client.connect().catch((err: unknown) => {
    throw new Error(`could not connect to the database (${messageOf(err)})`, { cause: err });
  });
  await client.query('SELECT pg_advisory_lock($1)', [CONVERSION_LOCK_KEY]);
  if (!hasPgdata(paths)) return null;
  const state = await targetState(client);
  if (state === 'converted') return countTarget(client);
  if (state === 'occupied') {
    throw new Error(
      'the database already holds tables that did not come from this conversion; it must be empty, so convert before anything else (migrations, the job queue) uses it',
    );
  }
  await assertReadableVersion(paths);
  try {
    await rm(paths.work, { recursive: true, force: true });
    await cp(paths.pgdata, paths.work, { recursive: true });
    return await loadFromCopy(paths, client);
  } finally {
    await rm(paths.work, { recursive: true, force: true }).catch(() => {});
  }
}

type TargetState = 'empty' | 'converted' | 'occupied';

async function targetState(client: pg.Client): Promise<TargetState> {
  const { rows } = await client.query<{ marked: boolean; tables: boolean }>(
    `SELECT coalesce(obj_description(to_regclass('public.ferry_migrations'), 'pg_class') LIKE $1 || '%', false) AS marked,
            EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p') AND ${SKIPPED_SCHEMAS}) AS tables`,
    [MARKER],
  );
  const row = rows[0]!;
  if (row.marked && (await hasMigrationRows(client))) return 'converted';
  return row.tables ? 'occupied' : 'empty';
}

async function hasMigrationRows(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ any: boolean }>(
    'SELECT EXISTS (SELECT FROM public.ferry_migrations) AS any',
  );
  return rows[0]!.any;
}

// PGlite cannot open another major version, and says only that it failed to initialize.
async function assertReadableVersion(paths: Paths): Promise<void> {
  const version = (await readFile(join(paths.pgdata, 'PG_VERSION'), 'utf8')).trim();
  if (version !== PGLITE_PG_MAJOR) {
    throw new Error(
      `it was written by PostgreSQL ${version}, and this Ferry reads PGlite data directories of PostgreSQL ${PGLITE_PG_MAJOR}`,
    );
  }
}

async function loadFromCopy(paths: Paths, client: pg.Client): Promise<Counts> {
  const source = await openSource(paths.work);
  try {
    const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump');
    const dump = async (section: string) =>
      (await pgDump({ pg: source, args: [...DUMP_ARGS, `--section=${section}`] })).text();
    const preData = await dump('pre-data');
    const postData = await dump('post-data');
    const known = await knownSettings(client);
    return await inTransaction(client, async () => {
      await client.query(prepareScript(preData, known));
      for (const table of await sourceTables(source)) await copyTable(source, client, table);
      await carrySequences(source, client);
      await client.query(prepareScript(postData, known));
      await markConverted(client);
      return countTarget(client);
    });
  } finally {
    await source.close().catch(() => {});
  }
}

async function openSource(dir: string): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  let source: PGlite;
  try {
    source = await PGlite.create({ dataDir: dir });
  } catch (err) {
    throw new Error(`PGlite could not open it (${messageOf(err)}); it may be damaged`, { cause: err });
  }
  // The same unambiguous text forms pg_dump uses for its own data.
  await source.exec("SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3;");
  return source;
}

async function inTransaction<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function knownSettings(client: pg.Client): Promise<Set<string>> {
  const { rows } = await client.query<{ name: string }>('SELECT name FROM pg_settings');
  return new Set(rows.map((r) => r.name));
}

/**
 * Readies a schema section for a server other than the one it was dumped from.
 * Only the frame pg_dump wraps around the statements is touched (the header of
 * comments, SETs and set_config before the first statement, and what follows
 * "dump complete"), so no function body or default can be altered: a SET of a
 * setting the target lacks is dropped (pg_dump 18 sets transaction_timeout,
 * unknown before PostgreSQL 17), and so is a psql meta-command such as
 * \restrict, which only psql understands.
 */
function prepareScript(sql: string, knownSettings: ReadonlySet<string>): string {
  const lines = sql.split('\n');
  const bodyStart = lines.findIndex(
    (line) => !/^(--.*|SET \w+ = .*|SELECT pg_catalog\.set_config\(.*|\\.*|)$/.test(line),
  );
  const trailerStart = lines.lastIndexOf('-- PostgreSQL database dump complete');
  const inFrame = (i: number) =>
    bodyStart === -1 || i < bodyStart || (trailerStart !== -1 && i > trailerStart);
  return lines
    .filter((line, i) => {
      if (!inFrame(i)) return true;
      if (line.startsWith('\\')) return false;
      const set = /^SET (\w+) = /.exec(line);
      return !set || knownSettings.has(set[1]!.toLowerCase());
    })
    .join('\n');
}

interface SourceTable {
  name: string;
  /** Named explicitly, so the load cannot depend on both sides ordering columns alike. */
  columns: string;
}

/** Every table that holds rows (ordinary tables, partitions of partitioned ones), with its stored columns. */
async function sourceTables(source: PGlite): Promise<SourceTable[]> {
  const { rows } = await source.query<SourceTable>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name,
            string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS columns
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND ${SKIPPED_SCHEMAS}
      GROUP BY 1
      ORDER BY 1`,
  );
  return rows;
}

async function copyTable(source: PGlite, client: pg.Client, table: SourceTable): Promise<void> {
  const target = `${table.name} (${table.columns})`;
  const out = await source.query(`COPY ${target} TO '/dev/blob'`);
  // PGlite returns no blob for an empty table.
  const bytes = out.blob ? new Uint8Array(await out.blob.arrayBuffer()) : new Uint8Array();
  const into = client.query(copyFrom(`COPY ${target} FROM STDIN`));
  await pipeline(Readable.from([bytes]), into);
  const expected = out.affectedRows ?? 0;
  if (into.rowCount !== expected) {
    throw new Error(`${table.name} has ${expected} rows but ${into.rowCount} were loaded`);
  }
}

// Sequence positions are data, not schema: neither section carries them.
async function carrySequences(source: PGlite, client: pg.Client): Promise<void> {
  const { rows } = await source.query<{ name: string; value: string }>(
    `SELECT format('%I.%I', s.schemaname, s.sequencename) AS name, s.last_value::text AS value
       FROM pg_sequences s JOIN pg_namespace n ON n.nspname = s.schemaname
      WHERE s.last_value IS NOT NULL AND ${SKIPPED_SCHEMAS}`,
  );
  for (const row of rows) await client.query('SELECT setval($1::regclass, $2, true)', [row.name, row.value]);
}

async function markConverted(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ present: boolean }>(
    "SELECT to_regclass('public.ferry_migrations') IS NOT NULL AS present",
  );
  if (!rows[0]!.present) return;
  const comment = `${MARKER} on ${new Date().toISOString()}`;
  await client.query(`COMMENT ON TABLE public.ferry_migrations IS ${client.escapeLiteral(comment)}`);
}

/** Tables and rows now in the target; it was empty before, so all of them came from PGlite. */
async function countTarget(client: pg.Client): Promise<Counts> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND ${SKIPPED_SCHEMAS}`,
  );
  if (tables.length === 0) return { tables: 0, rows: 0 };
  const counts = tables.map((t) => `SELECT count(*) AS n FROM ${t.name}`).join(' UNION ALL ');
  const { rows } = await client.query<{ total: string }>(`SELECT sum(n)::text AS total FROM (${counts}) c`);
  return { tables: tables.length, rows: Number(rows[0]!.total) };
}

/**
 * Renames demo, then pgdata, into the backup folder. pgdata goes last because
 * its presence is what makes the next start finish an interrupted move; the
 * folder reused is the first one that holds no pgdata yet.
 */
async function moveToBackup(paths: Paths): Promise<string> {
  const backupDir = backupDirFor(paths.dataDir);
  try {
    await mkdir(backupDir, { recursive: true });
    if (existsSync(paths.demo)) await rename(paths.demo, join(backupDir, 'demo'));
    await rename(paths.pgdata, join(backupDir, 'pgdata'));
    return backupDir;
  } catch (err) {
    throw new Error(
      `The PGlite data directory ${paths.pgdata} was converted into ${paths.database}, but moving it into ${backupDir} failed: ${messageOf(err)}. The converted data is committed; the next start only finishes the move.`,
      { cause: err },
    );
  }
}

function backupDirFor(dataDir: string): string {
  for (let n = 1; ; n++) {
    const dir = join(dataDir, n === 1 ? 'pglite-backup' : `pglite-backup-${n}`);
    if (!existsSync(join(dir, 'pgdata'))) return dir;
  }
}

function unchanged(paths: Paths, err: unknown): Error {
  return new Error(
    `The PGlite data directory ${paths.pgdata} could not be converted into ${paths.database}: ${messageOf(err)}. Nothing was changed: the database was left as it was and ${paths.pgdata} is untouched; the next start tries again.`,
    { cause: err },
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
