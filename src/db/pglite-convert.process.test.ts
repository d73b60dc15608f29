import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { fromPglite, PgBoss } from 'pg-boss';
import { serverUrl } from '../../test/helpers/db.ts';
import { baseEnv, startFerry } from '../../test/helpers/process.ts';
import { createLogger } from '../lib/log.ts';
import { loadMigrations } from './migrate.ts';
import { convertPgliteDataDir } from './pglite-convert.ts';

/** The PostgreSQL server conversions load into: the test server (each test makes and drops its own database on it). */
const testServerUrl = () => serverUrl();

const ids = {
  tenant: '11111111-1111-4111-8111-111111111111',
  user: '22222222-2222-4222-8222-222222222222',
  connection: '33333333-3333-4333-8333-333333333333',
  report: '44444444-4444-4444-8444-444444444444',
  schedule: '55555555-5555-4555-8555-555555555555',
  run: '66666666-6666-4666-8666-666666666666',
  destination: '77777777-7777-4777-8777-777777777777',
};

// Values that break naive dumps: quoting, escapes, line breaks, non-ASCII, JSON
// escapes, empty versus NULL, integers beyond 2^53, sub-millisecond instants.
const values = {
  tenantName: `Ünïcödé "double" 'single' — 日本語 🚢`,
  maxExportRows: '9007199254740993',
  userName: 'line one\nline two\r\n\ttabbed \\ backslash \\\\ two \\N not null',
  // pglite-tools' own pg_dump wrapper deletes lines that start with \restrict.
  reportSql:
    "SELECT 'a\\b' AS x, E'\\n' AS y\n\\restrict not-a-meta-command\n\\unrestrict neither\n-- note\nFROM t",
  config: {
    host: 'db.example',
    port: 5432,
    nested: { quote: '"', backslash: '\\', newline: 'a\nb', unicode: '€😀', nothing: null },
    list: [1, 2.5, 'x', true],
  },
  secret: 'sealed:\\x00\\n"\'',
  parameters: [{ name: 'from', type: 'date', default: "2024-01-01'" }],
  notifyEmails: ['a@example.com', 'with,comma@example.com', 'quote"d@example.com', null],
  backlog: ['2026-03-01 08:00:00.123456+00', '2026-03-02 08:00:00+00'],
  scheduledFor: '2026-03-01 08:00:00.123456+00',
  runError: 'Error: boom\n\tat line 1\r\n\u0001 control',
  bytes: Buffer.from([0, 1, 2, 0x5c, 0x27, 0x0a, 0xff, 0xfe]),
};

let fixtureDir = '';
let fixtureRows = new Map<string, string[]>();
const scratch: string[] = [];

before(async () => {
  await testServerUrl();
  fixtureDir = await tempDir();
  fixtureRows = await buildOldDataDir(fixtureDir);
});

after(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

test('converts an old PGlite data directory into PostgreSQL exactly, once', async (t) => {
  const dataDir = await copyOfFixture();
  const lines: string[] = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(line) });
  await withDatabase(async (url) => {
    const result = await convertPgliteDataDir({ dataDir, url, log });
    t.diagnostic(`conversion: ${result.ms} ms, ${result.tables} tables, ${result.rows} rows`);
    assert.equal(result.converted, true);
    assert.equal(result.backupDir, join(dataDir, 'pglite-backup'));
    assert.equal(result.tables, fixtureRows.size);
    assert.equal(
      result.rows,
      [...fixtureRows.values()].reduce((sum, rows) => sum + rows.length, 0),
    );

    await withClient(url, async (client) => {
      assert.deepEqual(await tableRows(client), fixtureRows);
      await assertValues(client);
      await assertMigrationsAndJobs(client);
      await assertSequencesContinue(client);
      const demo = await client.query("SELECT to_regnamespace('demo') AS schema");
      assert.equal(demo.rows[0].schema, null, 'the demo schema is not converted');
    });

    assert.ok(!existsSync(join(dataDir, 'pgdata')));
    assert.ok(!existsSync(join(dataDir, 'demo')));
    assert.ok(existsSync(join(dataDir, 'pglite-backup', 'pgdata', 'PG_VERSION')));
    assert.ok(existsSync(join(dataDir, 'pglite-backup', 'demo', 'PG_VERSION')));
    assert.ok(!existsSync(join(dataDir, 'pglite-convert.tmp')));
    const logged = lines.map((line) => JSON.parse(line));
    assert.equal(logged.length, 1);
    assert.match(logged[0].msg, /pglite-backup: delete it when satisfied/);
    assert.equal(logged[0].rows, result.rows);

    const again = await convertPgliteDataDir({ dataDir, url, log });
    assert.equal(again.converted, false);
  });
});

test('`ferry start` on an old data directory converts it once, then runs on the embedded PostgreSQL', async () => {
  const dataDir = await copyOfFixture();
  const ferry = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dataDir, LOG_LEVEL: 'info' }));
  try {
    assert.match(ferry.output(), /converted the PGlite database/i);
    const password = (await readFile(join(dataDir, 'pg', 'password'), 'utf8')).trim();
    const url = `postgres://ferry:${encodeURIComponent(password)}@${encodeURIComponent(join(dataDir, 'pg', 'run'))}/ferry`;
    // Ferry is live on it (its scheduler works the converted schedules), so the
    // values it does not change are read back.
    await withClient(url, async (client) => {
      const tenant = await client.query('SELECT name FROM tenants WHERE id = $1', [ids.tenant]);
      assert.equal(tenant.rows[0]?.name, values.tenantName);
      const user = await client.query('SELECT name FROM users WHERE id = $1', [ids.user]);
      assert.equal(user.rows[0]?.name, values.userName);
      const migrations = await client.query('SELECT count(*)::int AS n FROM ferry_migrations');
      assert.equal(migrations.rows[0].n, (await loadMigrations()).length);
    });
    // Setup is closed: the converted users exist.
    assert.equal((await fetch(`${ferry.url}/api/v1/setup`)).status, 404);
    assert.equal((await fetch(`${ferry.url}/readyz`)).status, 200);
  } finally {
    assert.equal((await ferry.stop('SIGTERM')).code, 0, ferry.output());
  }
  assert.ok(existsSync(join(dataDir, 'pglite-backup', 'pgdata', 'PG_VERSION')));
  const again = await startFerry(['start'], baseEnv({ FERRY_DATA_DIR: dataDir, LOG_LEVEL: 'info' }));
  try {
    assert.doesNotMatch(again.output(), /converted the PGlite/i);
  } finally {
    assert.equal((await again.stop('SIGTERM')).code, 0, again.output());
  }
});

test('a conversion committed but interrupted before moving the files is finished, not loaded again', async () => {
  const dataDir = await copyOfFixture();
  await withDatabase(async (url) => {
    const first = await convertPgliteDataDir({ dataDir, url, log: quietLog() });
    // As if the process died right after COMMIT: the old files are still in place.
    await rename(join(dataDir, 'pglite-backup', 'pgdata'), join(dataDir, 'pgdata'));
    await rename(join(dataDir, 'pglite-backup', 'demo'), join(dataDir, 'demo'));

    const second = await convertPgliteDataDir({ dataDir, url, log: quietLog() });
    assert.equal(second.converted, true);
    assert.deepEqual([second.tables, second.rows], [first.tables, first.rows]);
    assert.ok(!existsSync(join(dataDir, 'pgdata')));
    assert.ok(existsSync(join(dataDir, 'pglite-backup', 'pgdata', 'PG_VERSION')));
    assert.ok(existsSync(join(dataDir, 'pglite-backup', 'demo', 'PG_VERSION')));
    await withClient(url, async (client) => assert.deepEqual(await tableRows(client), fixtureRows));
  });
});

test('a damaged data directory fails clearly and is left exactly as it was', async () => {
  const dataDir = await copyOfFixture();
  await writeFile(join(dataDir, 'pgdata', 'global', 'pg_control'), randomBytes(100));
  const before = await fingerprint(join(dataDir, 'pgdata'));
  await withDatabase(async (url) => {
    await assert.rejects(convertPgliteDataDir({ dataDir, url, log: quietLog() }), (err: Error) => {
      assert.match(err.message, /^The PGlite data directory .*pgdata could not be converted/);
      assert.match(err.message, /PGlite could not open it/);
      assert.match(err.message, /Nothing was changed: .* is untouched/);
      return true;
    });
    await withClient(url, async (client) => assert.equal((await tableRows(client)).size, 0));
  });
  assert.equal(await fingerprint(join(dataDir, 'pgdata')), before);
  assert.ok(!existsSync(join(dataDir, 'pglite-backup')));
  assert.ok(!existsSync(join(dataDir, 'pglite-convert.tmp')));
});

test('a database that already holds other Ferry tables is refused', async () => {
  const dataDir = await copyOfFixture();
  await withDatabase(async (url) => {
    await withClient(url, (client) =>
      client.query(
        "CREATE TABLE ferry_migrations (version int, name text); INSERT INTO ferry_migrations VALUES (1, 'init')",
      ),
    );
    await assert.rejects(
      convertPgliteDataDir({ dataDir, url, log: quietLog() }),
      /could not be converted .*already holds tables .*Nothing was changed/,
    );
  });
  assert.ok(existsSync(join(dataDir, 'pgdata', 'PG_VERSION')));
  assert.ok(!existsSync(join(dataDir, 'pglite-backup')));
});

test('without a PGlite data directory there is nothing to do', async () => {
  const dataDir = await tempDir();
  const result = await convertPgliteDataDir({ dataDir, url: 'postgres://unused.invalid/x', log: quietLog() });
  assert.equal(result.converted, false);
});

// ---- the old data directory ----

/** Builds <dir>/pgdata and <dir>/demo as an old Ferry left them; returns every converted table's rows. */
async function buildOldDataDir(dir: string): Promise<Map<string, string[]>> {
  const demo = await PGlite.create({ dataDir: join(dir, 'demo') });
  await demo.exec(
    "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'demo')",
  );
  await demo.close();

  const pglite = await PGlite.create({ dataDir: join(dir, 'pgdata') });
  try {
    await migrateLikeOldFerry(pglite);
    await startPgBoss(pglite);
    await insertFerryRows(pglite);
    // Not in the Ferry schema: the types Ferry's tables lack, and a demo schema that must stay behind.
    await pglite.exec(`
      CREATE TABLE conversion_probe (id serial PRIMARY KEY, b bytea, n numeric, f float8, i interval, m int[]);
      CREATE SCHEMA demo; CREATE TABLE demo.orders (id int); INSERT INTO demo.orders VALUES (1);`);
    await pglite.query(
      `INSERT INTO conversion_probe (b, n, f, i, m) VALUES
         ($1, '12345678901234567890.000000000001', 0.1, '1 year 2 mons 3 days 04:05:06.789', '{{1,2},{3,NULL}}'),
         (NULL, 'NaN', '-Infinity', '-1 day', '{}')`,
      [values.bytes],
    );
    return await sourceRows(pglite);
  } finally {
    await pglite.close();
  }
}

// As src/db/migrate.ts does it: one transaction per file, recorded in ferry_migrations.
async function migrateLikeOldFerry(pglite: PGlite): Promise<void> {
  for (const migration of await loadMigrations()) {
    await pglite.transaction(async (tx) => {
      await tx.exec(`CREATE TABLE IF NOT EXISTS ferry_migrations (
        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      await tx.query('INSERT INTO ferry_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      await tx.exec(migration.sql);
    });
  }
}

async function startPgBoss(pglite: PGlite): Promise<void> {
  const boss = new PgBoss({
    db: fromPglite(pglite),
    backend: 'pglite',
    schedule: false,
    supervise: false,
    migrate: true,
  });
  boss.on('error', (err) => assert.fail(err));
  await boss.start();
  await boss.createQueue('x');
  await boss.send('x', { a: 1 });
  await boss.stop();
}

async function insertFerryRows(pglite: PGlite): Promise<void> {
  const v = values;
  await pglite.query('INSERT INTO tenants (id, name, slug, max_export_rows) VALUES ($1, $2, $3, $4)', [
    ids.tenant,
    v.tenantName,
    'unicode-tenant',
    v.maxExportRows,
  ]);
  await pglite.query('INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, NULL)', [
    ids.user,
    'Üser@Example.com',
    v.userName,
  ]);
  await pglite.query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')", [
    ids.tenant,
    ids.user,
  ]);
  await pglite.query(
    `INSERT INTO connections (id, tenant_id, name, type, config, secret, privilege_warnings, privileges_checked_at)
     VALUES ($1, $2, 'Warehouse', 'postgres', $3, $4, '["can write"]', '2026-02-03 04:05:06.789012+00')`,
    [ids.connection, ids.tenant, JSON.stringify(v.config), v.secret],
  );
  await pglite.query(
    `INSERT INTO reports (id, tenant_id, connection_id, name, description, sql, spec, parameters)
     VALUES ($1, $2, $3, 'Multi-line', '', $4, NULL, $5)`,
    [ids.report, ids.tenant, ids.connection, v.reportSql, JSON.stringify(v.parameters)],
  );
  await pglite.query(
    `INSERT INTO schedules (id, tenant_id, report_id, name, format, cron, destination_ids, backlog, notify_emails)
     VALUES ($1, $2, $3, 'Nightly', 'csv', '0 8 * * *', $4, $5, $6)`,
    [ids.schedule, ids.tenant, ids.report, [ids.destination], v.backlog, v.notifyEmails],
  );
  await pglite.query(
    `INSERT INTO runs (id, tenant_id, report_id, schedule_id, trigger, status, format, report_snapshot, report_name,
                       scheduled_for, error, row_count)
     VALUES ($1, $2, $3, $4, 'schedule', 'failed', 'csv', $5, $6, $7, $8, 0)`,
    [
      ids.run,
      ids.tenant,
      ids.report,
      ids.schedule,
      JSON.stringify({ sql: v.reportSql }),
      v.tenantName,
      v.scheduledFor,
      v.runError,
    ],
  );
  for (const action of ['login', 'report.create', 'run.create']) {
    await pglite.query(
      `INSERT INTO audit_log (tenant_id, actor_type, actor_id, action, details) VALUES ($1, 'user', $2, $3, $4)`,
      [ids.tenant, ids.user, action, JSON.stringify({ note: `${action}\n"quoted"` })],
    );
  }
}

// ---- reading both sides ----

const TABLES_SQL = `SELECT format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('information_schema', 'demo') AND n.nspname NOT LIKE 'pg\\_%'`;

type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** Every converted table's rows as text, sorted in JS so no collation can reorder them. */
async function rowsByTable(query: Query): Promise<Map<string, string[]>> {
  await query("SET TimeZone = 'UTC'");
  const rows = new Map<string, string[]>();
  for (const { name } of await query(TABLES_SQL)) {
    const result = await query(`SELECT t::text AS row FROM ${name} t`);
    rows.set(String(name), result.map((r) => String(r['row'])).sort());
  }
  return new Map([...rows].sort());
}

const sourceRows = (pglite: PGlite) =>
  rowsByTable(async (sql) => (await pglite.query<Record<string, unknown>>(sql)).rows);
const tableRows = (client: pg.Client) => rowsByTable(async (sql) => (await client.query(sql)).rows);

async function assertValues(client: pg.Client): Promise<void> {
  const one = async (sql: string) => (await client.query(sql)).rows[0];
  const tenant = await one('SELECT name, slug, max_export_rows FROM public.tenants');
  assert.deepEqual(tenant, {
    name: values.tenantName,
    slug: 'unicode-tenant',
    max_export_rows: values.maxExportRows,
  });
  const user = await one('SELECT email, name, password_hash FROM public.users');
  assert.deepEqual(user, { email: 'Üser@Example.com', name: values.userName, password_hash: null });
  const connection = await one(
    'SELECT config, secret, privilege_warnings, privileges_checked_at::text AS checked FROM public.connections',
  );
  assert.deepEqual(connection, {
    config: values.config,
    secret: values.secret,
    privilege_warnings: ['can write'],
    checked: '2026-02-03 04:05:06.789012+00',
  });
  const report = await one('SELECT sql, description, spec, parameters FROM public.reports');
  assert.deepEqual(report, {
    sql: values.reportSql,
    description: '',
    spec: null,
    parameters: values.parameters,
  });
  const schedule = await one(
    'SELECT destination_ids, backlog::text[] AS backlog, notify_emails FROM public.schedules',
  );
  assert.deepEqual(schedule, {
    destination_ids: [ids.destination],
    backlog: values.backlog,
    notify_emails: values.notifyEmails,
  });
  const run = await one(
    'SELECT scheduled_for::text AS at, error, report_snapshot, started_at FROM public.runs',
  );
  assert.deepEqual(run, {
    at: values.scheduledFor,
    error: values.runError,
    report_snapshot: { sql: values.reportSql },
    started_at: null,
  });
  const probes = (
    await client.query('SELECT b, n, f, i::text AS i, m FROM public.conversion_probe ORDER BY id')
  ).rows;
  assert.deepEqual(probes, [
    {
      b: values.bytes,
      n: '12345678901234567890.000000000001',
      f: 0.1,
      i: '1 year 2 mons 3 days 04:05:06.789',
      m: [
        [1, 2],
        [3, null],
      ],
    },
    { b: null, n: 'NaN', f: Number.NEGATIVE_INFINITY, i: '-1 days', m: [] },
  ]);
}

async function assertMigrationsAndJobs(client: pg.Client): Promise<void> {
  const migrations = await client.query('SELECT version, name FROM public.ferry_migrations ORDER BY version');
  assert.deepEqual(
    migrations.rows,
    (await loadMigrations()).map((m) => ({ version: m.version, name: m.name })),
  );
  const jobs = await client.query("SELECT data FROM pgboss.job WHERE name = 'x'");
  assert.deepEqual(jobs.rows, [{ data: { a: 1 } }]);
}

// setval was carried: new identity and serial values follow the converted ones.
async function assertSequencesContinue(client: pg.Client): Promise<void> {
  const audit = await client.query(
    `INSERT INTO public.audit_log (tenant_id, actor_type, action) VALUES ($1, 'system', 'after') RETURNING id`,
    [ids.tenant],
  );
  assert.equal(audit.rows[0].id, '4');
  const probe = await client.query('INSERT INTO public.conversion_probe DEFAULT VALUES RETURNING id');
  assert.equal(probe.rows[0].id, 3);
  const download = await client.query(
    `INSERT INTO public.downloads (tenant_id, run_id, via) VALUES ($1, $2, 'api') RETURNING id`,
    [ids.tenant, ids.run],
  );
  assert.equal(download.rows[0].id, '1', 'an unused sequence starts where it did');
}

// ---- scaffolding ----

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pglite-convert-'));
  scratch.push(dir);
  return dir;
}

async function copyOfFixture(): Promise<string> {
  const dir = await tempDir();
  await cp(fixtureDir, dir, { recursive: true });
  return dir;
}

/** A fresh database owned by a fresh role that is not a superuser, as Ferry's own role would be. */
async function withDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const server = await testServerUrl();
  const name = `ferry_conv_${randomBytes(6).toString('hex')}`;
  await withClient(server, async (admin) => {
    // Separate statements: CREATE DATABASE refuses to run inside a multi-statement query.
    await admin.query(`CREATE ROLE ${name} LOGIN PASSWORD '${name}'`);
    await admin.query(`CREATE DATABASE ${name} OWNER ${name}`);
  });
  try {
    const url = new URL(server);
    url.username = name;
    url.password = name;
    url.pathname = `/${name}`;
    await fn(url.toString());
  } finally {
    await withClient(server, async (admin) => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${name}`);
    });
  }
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Names, sizes and contents of every file under dir. */
async function fingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  for (const file of files.map((e) => join(e.parentPath, e.name)).sort()) {
    hash.update(file).update(await readFile(file));
  }
  return hash.digest('hex');
}

function quietLog() {
  return createLogger('silent');
}
