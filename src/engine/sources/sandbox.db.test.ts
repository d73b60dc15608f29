import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEmptyPostgresDatabase, dropPostgresDatabase, postgresUrl } from '../../../test/helpers/db.ts';
import { createMysqlDatabase, createSqliteFile } from '../../../test/helpers/engines.ts';
import { createMysqlSource } from './mysql.ts';
import { createPostgresSource } from './postgres.ts';
import { bindParameters } from './sql-text.ts';
import { createSqliteSource } from './sqlite.ts';
import type { BoundQuery, Row, Source } from './types.ts';

// Escape attempts from an editor's report SQL, per engine, against the worst
// connection an operator can configure (PostgreSQL superuser, MariaDB root with
// FILE). Each must be refused by Ferry with a message about the SQL, on every
// path that sends report text (rows and, on PostgreSQL, COPY), and the source
// must be unchanged afterwards: no row, no file, no lock, no setting.

const marker = () => join(tmpdir(), `ferry-sandbox-${randomBytes(6).toString('hex')}`);
const signal = () => new AbortController().signal;
const csvOptions = { delimiter: ',', quote: '"', header: true, nullText: '', formulaProtection: false };

async function readRows(source: Source, query: BoundQuery): Promise<Row[]> {
  const stream = await source.openRows(query, signal(), { batchSize: 100, timeoutMs: 20_000 });
  const rows: Row[] = [];
  for await (const batch of stream.batches) rows.push(...batch);
  return rows;
}

async function readCopy(source: Source, query: BoundQuery): Promise<string> {
  const copy = await source.copyCsv!(query, csvOptions, signal(), { timeoutMs: 20_000 });
  assert.ok(copy, 'the COPY path was taken');
  let text = '';
  for await (const chunk of copy.stream as AsyncIterable<Buffer>) text += chunk.toString('utf8');
  return text;
}

/** Ferry's refusal: an error about the SQL, before anything reached the database. */
const REFUSED =
  /Reports are read-only|Only one statement|not valid SQL|not allowed|Executable comments|inside quotes|longer than|reports only read/;

async function assertRefused(run: () => Promise<unknown>, sql: string) {
  await assert.rejects(run, (err: Error) => {
    assert.equal(err.name, 'SqlRejected', `${JSON.stringify(sql)} → ${err.name}: ${err.message}`);
    assert.match(err.message, REFUSED, JSON.stringify(sql));
    return true;
  });
}

// On the test server (the machine's PostgreSQL, or the embedded one), connected as
// its superuser: the worst case an operator can configure.
const needsPostgres = {};

describe('SQL sandbox: PostgreSQL (superuser connection)', () => {
  let name: string | undefined;
  let source: Source;
  let admin: import('pg').Client | undefined;
  const file = marker();
  before(async () => {
    name = await createEmptyPostgresDatabase();
    const pg = (await import('pg')).default;
    admin = new pg.Client({ connectionString: await postgresUrl(name) });
    await admin.connect();
    await admin.query(
      'CREATE TABLE canary (id int); INSERT INTO canary VALUES (1); CREATE SEQUENCE canary_seq',
    );
    source = createPostgresSource({ connectionString: await postgresUrl(name) });
  });
  after(async () => {
    await source.close();
    await admin?.end();
    if (name) await dropPostgresDatabase(name);
    await rm(file, { force: true });
  });

  const attempts = [
    // A carriage return ends a -- comment on the server.
    'SELECT 1 -- note\r; INSERT INTO canary VALUES (2)',
    `SELECT 1 -- note\r; COPY (SELECT 1) TO PROGRAM 'touch ${file}'`,
    `SELECT 1 -- note\r; COPY (SELECT 1) TO '${file}'`,
    // Nested comments, E-strings, dollar quotes and quoted names as the server reads them.
    'SELECT 1 /* /* */ */; INSERT INTO canary VALUES (3)',
    "SELECT E'\\''; INSERT INTO canary VALUES (4); --'",
    'SELECT $a$ $b$ $a$; INSERT INTO canary VALUES (5)',
    "SELECT 'a' ' -- '; DELETE FROM canary",
    `SELECT "pg_read_file"('${file}')`,
    "SELECT pg_catalog.PG_READ_BINARY_FILE('postgresql.conf')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT (pg_stat_file('postgresql.conf')).size",
    'SELECT pg_reload_conf()',
    'SELECT pg_terminate_backend(pg_backend_pid())',
    "SELECT pg_logical_emit_message(true, 'ferry', 'x')",
    'SELECT pg_advisory_lock(4242)',
    "SELECT set_config('statement_timeout', '1', false)",
    "SELECT nextval('canary_seq')",
    "SELECT query_to_xml('SELECT pg_read_file(''x'')', true, true, '')",
    'WITH x AS (INSERT INTO canary VALUES (6) RETURNING 1) SELECT * FROM x',
    'SELECT 1 INTO canary_copy',
    'SELECT * FROM canary FOR UPDATE',
    `COPY (SELECT 1) TO PROGRAM 'touch ${file}'`,
  ];

  for (const sql of attempts) {
    test(`refused on the row and COPY paths: ${JSON.stringify(sql)}`, async () => {
      await assertRefused(() => readRows(source, { sql, values: [] }), sql);
      await assertRefused(() => readCopy(source, { sql, values: [] }), sql);
    });
  }

  const values = [
    "x'; INSERT INTO canary VALUES (7); --",
    '$$; INSERT INTO canary VALUES (8); $$',
    "\\'; DELETE FROM canary; --",
    '*/ ; DROP TABLE canary; /*',
    '--\r; DROP TABLE canary',
    "E'\\\\'",
    '{{v}}',
    '😀 é',
  ];

  test(
    'parameter values with quotes, backslashes, dollar quotes and comment openers are values, on both paths',
    needsPostgres,
    async () => {
      const report = 'SELECT {{v}} AS v, {{n}}::int AS n';
      for (const v of values) {
        const bound = await bindParameters(report, 'postgres', { v, n: 5 });
        const rows = await readRows(source, bound);
        assert.deepEqual(rows, [[v, 5]]);
        const csv = await readCopy(source, bound);
        assert.equal(csv, `v,n\n${/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v},5\n`);
      }
    },
  );

  test('the source is unchanged: no row, no file, no advisory lock, no setting', needsPostgres, async () => {
    if (!admin) throw new Error('no PostgreSQL');
    const rows = await admin.query('SELECT array_agg(id ORDER BY id) AS ids FROM canary');
    assert.deepEqual(rows.rows[0].ids, [1]);
    assert.equal(existsSync(file), false);
    const tables = await admin.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'canary_copy'");
    assert.equal(tables.rows[0].n, 0);
    // This database's only: other test files share the server and take their own.
    const locks = await admin.query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert.equal(locks.rows[0].n, 0);
    const seq = await admin.query('SELECT last_value::int AS v, is_called FROM canary_seq');
    assert.deepEqual(seq.rows[0], { v: 1, is_called: false });
    const timeout = await readRows(source, {
      sql: "SELECT current_setting('statement_timeout')",
      values: [],
    });
    assert.notEqual(timeout[0]![0], '1ms');
  });
});

describe('SQL sandbox: MariaDB (root, with FILE)', () => {
  let db: Awaited<ReturnType<typeof createMysqlDatabase>>;
  let source: Source;
  const file = marker();
  before(async () => {
    db = await createMysqlDatabase();
    await db.exec('CREATE TABLE canary (id int); INSERT INTO canary VALUES (1); CREATE SEQUENCE canary_seq;');
    source = createMysqlSource({ uri: db.url });
  });
  after(async () => {
    await source.close();
    await db.drop();
    await rm(file, { force: true });
  });

  const attempts = [
    // MariaDB starts a -- comment at any control character after the dashes.
    `SELECT 1 --\x01 '\n INTO OUTFILE '${file}' -- '`,
    `SELECT 1 --\x0b '\n INTO DUMPFILE '${file}' -- '`,
    `SELECT 1 --\t\n; INSERT INTO canary VALUES (2)`,
    `SELECT \`LOAD_FILE\`('/etc/hostname')`,
    `SELECT load_file('/etc/hostname')`,
    `SELECT 1 INTO OUTFILE '${file}'`,
    `SELECT 1 /*!50000 INTO OUTFILE '${file}' */`,
    `SELECT 1 /*M!100000 INTO OUTFILE '${file}' */`,
    `LOAD DATA INFILE '/etc/hostname' INTO TABLE canary`,
    'SELECT 1; DROP TABLE canary',
    "SELECT GET_LOCK('ferry', 0)",
    'SELECT SLEEP(10)',
    'SELECT NEXT VALUE FOR canary_seq',
    'SELECT * FROM canary FOR UPDATE',
    'SELECT * FROM canary LOCK IN SHARE MODE',
    'SELECT 1\0; DROP TABLE canary',
  ];
  for (const sql of attempts) {
    test(`refused: ${JSON.stringify(sql)}`, async () => {
      await assertRefused(() => readRows(source, { sql, values: [] }), sql);
    });
  }

  test('a backslash escapes a quote, as the session Ferry sets up lexes it: one string, not a second statement', async () => {
    const rows = await readRows(source, { sql: "SELECT 'a\\'; DELETE FROM canary; -- '", values: [] });
    assert.deepEqual(rows, [["a'; DELETE FROM canary; -- "]]);
  });

  test('parameter values are literals where the server sees each ?, never inside quotes or comments', async () => {
    const report = "SELECT {{v}} AS v, 'what?' AS q /* ? */, {{n}} AS n -- ?";
    for (const v of ["x'; INSERT INTO canary VALUES (7); --", '\\', "\\'", '"', '\0\x1a\r\n', '?', '😀 é']) {
      const bound = await bindParameters(report, 'mysql', { v, n: 5 });
      const rows = await readRows(source, bound);
      assert.deepEqual(rows, [[v, 'what?', 5]], JSON.stringify(v));
    }
  });

  test('the source is unchanged: no row, no file', async () => {
    const rows = await readRows(source, { sql: 'SELECT id FROM canary ORDER BY id', values: [] });
    assert.deepEqual(rows, [[1]]);
    assert.equal(existsSync(file), false);
  });
});

describe('SQL sandbox: SQLite (read-only file)', () => {
  let f: Awaited<ReturnType<typeof createSqliteFile>>;
  let source: Source;
  before(async () => {
    f = await createSqliteFile('CREATE TABLE canary (id int); INSERT INTO canary VALUES (1);');
    source = createSqliteSource(f.path);
  });
  after(async () => {
    await source.close();
    await f.cleanup();
  });

  for (const sql of [
    'SELECT 1; DELETE FROM canary',
    'SELECT 1 -- note\n; DELETE FROM canary',
    'SELECT 1 /* ; */ ; DROP TABLE canary',
    `SELECT "load_extension"('x')`,
    "SELECT [load_extension]('x')",
    "SELECT `LOAD_EXTENSION`('x')",
    `ATTACH DATABASE '${join(tmpdir(), 'ferry-attach.db')}' AS x`,
    'WITH x AS (SELECT 1) DELETE FROM canary',
    "SELECT '{{v}}'",
  ]) {
    test(`refused: ${JSON.stringify(sql)}`, async () => {
      await assertRefused(async () => {
        const bound = await bindParameters(sql, 'sqlite', { v: 1 });
        return readRows(source, bound);
      }, sql);
    });
  }

  test('bracketed and quoted names that are not functions still work', async () => {
    const rows = await readRows(source, {
      sql: 'SELECT [id], "id", `id` FROM canary -- ; DELETE',
      values: [],
    });
    assert.deepEqual(rows, [[1, 1, 1]]);
  });
});
