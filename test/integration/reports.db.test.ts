import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/lib/clock.ts';
import type { ConnectionRow } from '../../src/modules/connections/repo.ts';
import { templates } from '../../src/modules/reports/templates.ts';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends, serverUrl } from '../helpers/db.ts';
import { createMysqlDatabase, fixtureSql, type MysqlTestDb } from '../helpers/engines.ts';
import { waitFor } from '../helpers/time.ts';

for (const backend of backends()) {
  describe(`data sources and reports (${backend})`, () => {
    const clock = new ManualClock('2026-03-15T10:00:00Z');
    let t: TestApp;
    let owner: TenantHandle;
    let demoId: string;
    let sqliteDir: string;
    let mysqlDb: MysqlTestDb;
    before(async () => {
      sqliteDir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-dir-'));
      t = await createTestApp(backend, { clock, env: { FERRY_SQLITE_DIR: sqliteDir } });
      owner = await setupFirstTenant(t);
      mysqlDb = await createMysqlDatabase();
      await mysqlDb.exec(fixtureSql.mysql);
      const list = await call(t, { url: '/api/v1/connections', key: owner.apiKey });
      demoId = list.body.items.find((c: { type: string }) => c.type === 'demo').id;
    });
    after(async () => {
      await t.close();
      await mysqlDb.drop();
      await rm(sqliteDir, { recursive: true, force: true });
    });

    const report = (body: object) =>
      call(t, { method: 'POST', url: '/api/v1/reports', key: owner.apiKey, body });
    const preview = (id: string, body: object = {}) =>
      call(t, { method: 'POST', url: `/api/v1/reports/${id}/preview`, key: owner.apiKey, body });
    const previewSql = (sql: string, parameters: object[] = [], values: object = {}, connectionId = demoId) =>
      call(t, {
        method: 'POST',
        url: '/api/v1/reports/preview',
        key: owner.apiKey,
        body: { report: { connectionId, sql, parameters }, parameters: values },
      });

    test('a new tenant has a working Demo data connection with a schema of its tables only', async () => {
      const conn = await call(t, { url: `/api/v1/connections/${demoId}`, key: owner.apiKey });
      assert.equal(conn.body.name, 'Demo data');
      const tested = await call(t, {
        method: 'POST',
        url: `/api/v1/connections/${demoId}/test`,
        key: owner.apiKey,
      });
      assert.equal(tested.status, 200);
      assert.match(tested.body.version, /PostgreSQL/);
      assert.ok(tested.body.latencyMs >= 0);
      const schema = await call(t, { url: `/api/v1/connections/${demoId}/schema`, key: owner.apiKey });
      const names = schema.body.tables.map((x: { name: string }) => x.name);
      for (const table of [
        'customers',
        'products',
        'sales_orders',
        'sales_order_lines',
        'inventory_levels',
        'staff',
        'attendance',
        'payroll',
        'marketing_campaigns',
        'campaign_results',
        'usage_events',
        'ledger_accounts',
        'journal_entries',
        'journal_lines',
        'vat_codes',
        'cost_centres',
      ]) {
        assert.ok(names.includes(table), `demo table ${table}`);
      }
      assert.ok(!names.includes('users') && !names.includes('api_keys') && !names.includes('meta'));
      const orders = schema.body.tables.find((x: { name: string }) => x.name === 'sales_orders');
      assert.deepEqual(
        orders.columns.map((c: { name: string; type: string }) => [c.name, c.type]).slice(0, 3),
        [
          ['id', 'integer'],
          ['order_number', 'string'],
          ['customer_id', 'integer'],
        ],
      );
      // Another tenant gets its own demo connection.
      const other = await createTenant(t, owner.apiKey, 'Other', 'other@example.com');
      const theirs = await call(t, { url: '/api/v1/connections', key: other.apiKey });
      assert.equal(theirs.body.items.length, 1);
      assert.notEqual(theirs.body.items[0].id, demoId);
    });

    test('the demo data holds no date or time later than today (every date and timestamp column)', async () => {
      const columns = await t.ctx.db.query<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.columns
          WHERE table_schema = 'demo' AND table_name <> 'meta'
            AND data_type IN ('date', 'timestamp with time zone', 'timestamp without time zone')`,
      );
      assert.ok(columns.rows.length >= 5, `date columns found: ${columns.rows.length}`);
      for (const { table_name, column_name } of columns.rows) {
        const r = await t.ctx.db.query<{ latest: string | null; today: string }>(
          `SELECT max("${column_name}")::date::text AS latest, current_date::text AS today FROM demo."${table_name}"`,
        );
        const { latest, today } = r.rows[0]!;
        assert.ok(
          latest === null || latest <= today,
          `demo.${table_name}.${column_name}: ${latest} > ${today}`,
        );
      }
    });

    test('the demo connection cannot read Ferry’s own tables', async () => {
      for (const sql of [
        'SELECT * FROM public.users',
        'SELECT key_hash FROM public.api_keys',
        'SELECT * FROM pgboss.job',
      ]) {
        const r = await previewSql(sql);
        assert.equal(r.status, 422, `${sql} → ${r.status} ${r.text}`);
        assert.match(r.body.detail, /permission denied|does not exist/);
      }
    });

    test('the demo reader cannot become Ferry’s user, even in SQL the text checks cannot see', async () => {
      const escapeAttempt =
        "SELECT set_config('role', 'none', true), query_to_xml('select * from public.api_keys', true, false, '')";
      const r = await previewSql(escapeAttempt);
      assert.equal(r.status, 400);
      // A use of the demo data made the tenant's reader.
      assert.equal((await previewSql('SELECT 1 AS one')).status, 200);
      // Underneath the text checks: the database itself refuses.
      {
        const pg = (await import('pg')).default;
        const reader = new pg.Client({
          connectionString: t.database.demo.readers.forTenant(owner.tenantId).url,
        });
        await reader.connect();
        try {
          await assert.rejects(reader.query('SELECT * FROM public.api_keys'), /permission denied/);
          const ferryUser = (await t.database.db.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
          await assert.rejects(
            reader.query('SELECT set_config($1, $2, false)', ['role', ferryUser]),
            /permission denied|must be member/,
          );
          assert.ok((await reader.query('SELECT count(*) FROM demo.customers')).rows[0].count > 0);
        } finally {
          await reader.end();
        }
      }
    });

    test('each tenant reads the demo data as its own role: a runaway query of one holds none of another’s', async () => {
      const other = await createTenant(t, owner.apiKey, 'Other tenant', 'other@example.com');
      const rowOf = async (tenantId: string) =>
        (
          await t.ctx.db.query<ConnectionRow>(
            "SELECT * FROM connections WHERE tenant_id = $1 AND type = 'demo'",
            [tenantId],
          )
        ).rows[0]!;
      const readers = t.database.demo.readers;
      const [mine, theirs] = [readers.forTenant(owner.tenantId), readers.forTenant(other.tenantId)];
      assert.notEqual(mine.role, theirs.role);
      const activeOf = async (role: string) =>
        (
          await t.ctx.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND state = 'active'",
            [role],
          )
        ).rows[0]!.n;
      // Tenant A's query that would run for hours, on its own source.
      const controller = new AbortController();
      const source = t.ctx.sources.get(await rowOf(owner.tenantId));
      const runaway = source
        .openRows(
          {
            sql: 'SELECT count(*) FROM generate_series(1, 100000000) a, generate_series(1, 100000000) b',
            values: [],
          },
          controller.signal,
          { batchSize: 10, timeoutMs: 300_000 },
        )
        .then(async (rows) => {
          for await (const _ of rows.batches);
        });
      const settled = runaway.catch((err: Error) => err);
      await waitFor('tenant A’s query to start', async () => (await activeOf(mine.role)) > 0, 30_000, 25);
      // Tenant B's demo query is answered while A's still runs.
      const b = await call(t, {
        method: 'POST',
        url: '/api/v1/reports/preview',
        key: other.apiKey,
        body: {
          report: {
            connectionId: (await rowOf(other.tenantId)).id,
            sql: 'SELECT count(*) AS n FROM customers',
            parameters: [],
          },
          parameters: {},
        },
      });
      assert.equal(b.status, 200, b.text);
      assert.equal(await activeOf(mine.role), 1, 'tenant A’s query ended before B was answered');
      // A's reader cannot become B's.
      const pg = (await import('pg')).default;
      const reader = new pg.Client({ connectionString: mine.url });
      await reader.connect();
      try {
        await assert.rejects(reader.query(`SET ROLE ${theirs.role}`), /permission denied/);
      } finally {
        await reader.end();
      }
      controller.abort(new Error('cancelled by the test'));
      assert.match(String(await settled), /cancelled by the test/);
      await waitFor(
        'tenant A’s query to leave the server after the cancel',
        async () => (await activeOf(mine.role)) === 0,
        30_000,
        25,
      );
    });

    test('every template can be used and previewed', async () => {
      const list = await call(t, { url: '/api/v1/templates', key: owner.apiKey });
      assert.ok(list.body.items.length >= 10);
      for (const tpl of templates) {
        const used = await call(t, {
          method: 'POST',
          url: `/api/v1/templates/${tpl.key}/use`,
          key: owner.apiKey,
          body: {},
        });
        assert.equal(used.status, 201, `${tpl.key}: ${used.text}`);
        assert.equal(used.body.connectionId, demoId);
        const p = await preview(used.body.id, {
          parameters: tpl.parameters.some((x) => x.name === 'from')
            ? { from: '2025-01-01', to: '2026-12-31' }
            : {},
        });
        assert.equal(p.status, 200, `${tpl.key}: ${p.text}`);
        assert.ok(p.body.columns.length > 0);
        assert.ok(p.body.rowCount > 0, `${tpl.key} returned no rows`);
      }
      assert.equal(
        (await call(t, { method: 'POST', url: '/api/v1/templates/nope/use', key: owner.apiKey, body: {} }))
          .status,
        404,
      );
    });

    test('SQL with typed parameters: bound values, defaults with relative dates in a time zone, clear errors', async () => {
      const created = await report({
        name: 'Orders in range',
        connectionId: demoId,
        sql: 'SELECT id, order_date, region FROM sales_orders WHERE order_date BETWEEN {{from}} AND {{to}} AND region IN ({{regions}}) ORDER BY id',
        parameters: [
          { name: 'from', type: 'date', default: 'start_of_last_month' },
          { name: 'to', type: 'date', default: 'end_of_last_month' },
          { name: 'regions', type: 'list', items: 'string', default: ['North', 'South'] },
        ],
      });
      assert.equal(created.status, 201, created.text);
      const p = await preview(created.body.id);
      assert.equal(p.status, 200, p.text);
      // Clock: 2026-03-15 → last month is February 2026.
      for (const row of p.body.rows) {
        assert.ok(row[1] >= '2026-02-01' && row[1] <= '2026-02-28', row[1]);
        assert.ok(['North', 'South'].includes(row[2]));
      }
      assert.deepEqual(
        p.body.columns.map((c: { type: string }) => c.type),
        ['integer', 'date', 'string'],
      );
      assert.ok(p.body.rowCount <= 100);

      const wrongType = await preview(created.body.id, { parameters: { from: 'last tuesday' } });
      assert.equal(wrongType.status, 400);
      assert.equal(wrongType.body.errors[0].path, 'parameters.from');
      const unknown = await preview(created.body.id, { parameters: { region: 'x' } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.detail, /parameters.region is not a parameter/);
      const badZone = await preview(created.body.id, { timezone: 'Mars/Olympus' });
      assert.equal(badZone.status, 400);
      assert.equal(badZone.body.errors[0].path, 'timezone');

      const missing = await report({
        name: 'x',
        connectionId: demoId,
        sql: 'SELECT * FROM customers WHERE id = {{id}}',
        parameters: [],
      });
      assert.equal(missing.status, 400);
      assert.match(missing.body.detail, /\{\{id\}\}, which is not declared/);
      const required = await previewSql('SELECT * FROM customers WHERE id = {{id}}', [
        { name: 'id', type: 'integer' },
      ]);
      assert.equal(required.status, 400);
      assert.equal(required.body.errors[0].path, 'parameters.id');
      const quoted = await previewSql(
        "SELECT * FROM customers WHERE name = '{{name}}'",
        [{ name: 'name', type: 'string' }],
        { name: 'x' },
      );
      assert.equal(quoted.status, 400);
      assert.match(quoted.body.detail, /inside quotes/);
    });

    test('injection through a parameter is just a value', async () => {
      const attempt = "x' OR '1'='1'; DROP TABLE customers; --";
      const r = await previewSql(
        'SELECT id FROM customers WHERE name = {{name}}',
        [{ name: 'name', type: 'string' }],
        { name: attempt },
      );
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.rows, []);
      const still = await previewSql('SELECT count(*) AS n FROM customers');
      assert.ok(Number(still.body.rows[0][0]) > 0);
    });

    test('declared parameter types are sent: a parameter used twice or only in the select list has its declared type', async () => {
      // Without the declared type PostgreSQL deduces text for the select list and
      // bigint for the comparison: "inconsistent types deduced for parameter $1".
      const twice = await previewSql(
        'SELECT {{min_qty}} AS x, {{day}} AS d, {{flag}} AS f, id FROM customers WHERE id >= {{min_qty}} ORDER BY id LIMIT 3',
        [
          { name: 'min_qty', type: 'integer' },
          { name: 'day', type: 'date' },
          { name: 'flag', type: 'boolean' },
        ],
        { min_qty: 2, day: '2026-02-28', flag: true },
      );
      assert.equal(twice.status, 200, twice.text);
      assert.deepEqual(
        twice.body.columns.map((c: { name: string; type: string }) => [c.name, c.type]),
        [
          ['x', 'bigint'],
          ['d', 'date'],
          ['f', 'boolean'],
          ['id', 'integer'],
        ],
      );
      assert.deepEqual(twice.body.rows[0].slice(0, 3), ['2', '2026-02-28', true]);
      assert.ok(twice.body.rows.every((r: number[]) => r[3]! >= 2));
      // An error about a parameter names it as the user wrote it, never as $n.
      const bad = await previewSql(
        'SELECT id FROM customers WHERE id = {{ids}} AND name = {{ids}}',
        [{ name: 'ids', type: 'integer' }],
        { ids: 1 },
      );
      assert.equal(bad.status, 422, bad.text);
      assert.doesNotMatch(bad.body.detail, /\$\d/);
    });

    test('bad SQL: 422 with the database message and the position in the text the user wrote', async () => {
      const sql = 'SELECT id FROM customers WHERE id > {{min}} AND nmae = 1';
      const r = await previewSql(sql, [{ name: 'min', type: 'integer' }], { min: 5 });
      assert.equal(r.status, 422);
      assert.match(r.body.detail, /column "nmae" does not exist/);
      const position = Number(/position (\d+)/.exec(r.body.detail)?.[1]);
      assert.equal(sql.slice(position - 1, position + 3), 'nmae');
      const missingTable = await previewSql('SELECT * FROM sales');
      assert.equal(missingTable.status, 422);
      assert.match(missingTable.body.detail, /relation "sales" does not exist/);
    });

    test('writes, DDL, COPY and several statements are refused with a clear message', async () => {
      for (const [sql, pattern] of [
        ['DELETE FROM customers', /not DELETE/],
        ['DROP TABLE customers', /not DROP/],
        ['INSERT INTO customers (id) VALUES (1)', /not INSERT/],
        ["COPY (SELECT 1) TO PROGRAM 'id'", /not COPY/],
        ['SELECT 1; SELECT 2', /Only one statement/],
        ['WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d', /DELETE is not allowed/],
        // PostgreSQL ends a -- comment at a carriage return: the parser sees the second statement.
        ['SELECT 1 -- note\r; DELETE FROM customers', /Only one statement/],
        ['SELECT "pg_read_file"(\'/etc/hostname\')', /pg_read_file\(\) reads or writes files/],
        ['SELECT pg_advisory_lock(1)', /advisory locks/],
        [`SELECT 1 AS a${' '.repeat(300_000)}`, /262144 characters|longer than 256 KB/],
      ] as const) {
        const r = await report({ name: 'bad', connectionId: demoId, sql });
        assert.equal(r.status, 400, `${sql} → ${r.status}`);
        assert.match(r.body.detail, pattern);
        assert.equal(r.body.errors[0].path, 'sql');
      }
    });

    test('builder: table, columns, filters, grouping and sort compile to checked, quoted SQL', async () => {
      const spec = {
        table: 'sales_orders',
        columns: [{ column: 'region' }, { column: '*', aggregate: 'count', label: 'orders' }],
        filters: [
          { column: 'status', op: 'in', values: ['shipped', 'open'] },
          { column: 'order_date', op: 'gte', value: { param: 'since' } },
        ],
        sort: [{ column: 'orders', direction: 'desc' }],
      };
      const created = await report({
        name: 'Orders by region',
        connectionId: demoId,
        spec,
        parameters: [{ name: 'since', type: 'date', default: '2025-01-01' }],
      });
      assert.equal(created.status, 201, created.text);
      const p = await preview(created.body.id);
      assert.equal(p.status, 200, p.text);
      assert.deepEqual(
        p.body.columns.map((c: { name: string }) => c.name),
        ['region', 'orders'],
      );
      assert.equal(p.body.rows.length, 5);
      const counts = p.body.rows.map((r: unknown[]) => Number(r[1]));
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => b - a),
      );

      const badColumn = await report({
        name: 'x',
        connectionId: demoId,
        spec: { table: 'sales_orders', columns: [{ column: 'nope' }] },
      });
      assert.equal(badColumn.status, 400);
      assert.equal(badColumn.body.errors[0].path, 'spec.columns.0.column');
      const badFilter = await report({
        name: 'x',
        connectionId: demoId,
        spec: {
          table: 'customers',
          columns: [{ column: 'id' }],
          filters: [{ column: 'ghost', op: 'eq', value: 1 }],
        },
      });
      assert.equal(badFilter.body.errors[0].path, 'spec.filters.0.column');
      const badTable = await report({
        name: 'x',
        connectionId: demoId,
        spec: { table: 'users', columns: [{ column: 'id' }] },
      });
      assert.equal(badTable.status, 400);
      assert.match(badTable.body.detail, /no table or view "users"/);
      const contains = await call(t, {
        method: 'POST',
        url: '/api/v1/reports/preview',
        key: owner.apiKey,
        body: {
          report: {
            connectionId: demoId,
            spec: {
              table: 'customers',
              columns: [{ column: 'name' }],
              filters: [{ column: 'name', op: 'contains', value: "o'brien" }],
            },
          },
        },
      });
      assert.equal(contains.status, 200, contains.text);
      assert.ok(
        contains.body.rows.every((r: string[]) => /o'brien/i.test(r[0]!)) && contains.body.rows.length > 0,
      );
    });

    test("another tenant's connection cannot be used, and its reports answer 404", async () => {
      const other = await createTenant(t, owner.apiKey, 'Other 2', 'other2@example.com');
      const theirs = (await call(t, { url: '/api/v1/connections', key: other.apiKey })).body.items[0].id;
      const r = await report({ name: 'steal', connectionId: theirs, sql: 'SELECT 1' });
      assert.equal(r.status, 400);
      assert.equal(r.body.errors[0].path, 'connectionId');
      const viewer = await createKey(t, owner.apiKey, 'viewer');
      const denied = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: viewer,
        body: { name: 'x', connectionId: demoId, sql: 'SELECT 1' },
      });
      assert.equal(denied.status, 403);
    });

    test('PostgreSQL/MariaDB connections: password write-only and encrypted, test reports version or the exact error', async () => {
      const mysqlUrl = new URL(mysqlDb.url);
      const created = await call(t, {
        method: 'POST',
        url: '/api/v1/connections',
        key: owner.apiKey,
        body: {
          name: 'Shop DB',
          type: 'mysql',
          // MariaDB's root here: an administrator account, confirmed.
          allowPrivilegedUser: true,
          config: {
            host: mysqlUrl.hostname,
            port: Number(mysqlUrl.port),
            database: mysqlDb.name,
            user: 'root',
            password: 'not-needed-but-secret',
          },
        },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.hasPassword, true);
      assert.ok(!created.text.includes('not-needed-but-secret'));
      const stored = await t.ctx.db.query<{ config: object; secret: string }>(
        'SELECT config, secret FROM connections WHERE id = $1',
        [created.body.id],
      );
      assert.ok(!JSON.stringify(stored.rows[0]).includes('not-needed-but-secret'));
      // Root has no password here: clear it, keep the rest.
      const cleared = await call(t, {
        method: 'PATCH',
        url: `/api/v1/connections/${created.body.id}`,
        key: owner.apiKey,
        body: { config: { password: null } },
      });
      assert.equal(cleared.body.hasPassword, false);
      const ok = await call(t, {
        method: 'POST',
        url: `/api/v1/connections/${created.body.id}/test`,
        key: owner.apiKey,
      });
      assert.equal(ok.status, 200, ok.text);
      assert.match(ok.body.version, /MariaDB|MySQL/);
      const rep = await report({
        name: 'fixture',
        connectionId: created.body.id,
        sql: 'SELECT id, name, amount, big FROM fixture WHERE id = {{id}}',
        parameters: [{ name: 'id', type: 'integer', default: 1 }],
      });
      const p = await preview(rep.body.id);
      assert.equal(p.status, 200, p.text);
      assert.deepEqual(p.body.rows[0], [
        1,
        'O\'Brien, "Quoted"\nline 2 🚀 Zoë',
        '-1234.5678',
        '9007199254740993',
      ]);
      assert.equal(
        (
          await call(t, {
            method: 'DELETE',
            url: `/api/v1/connections/${created.body.id}`,
            key: owner.apiKey,
          })
        ).status,
        409,
      );

      const unreachable = await call(t, {
        method: 'POST',
        url: '/api/v1/connections/test',
        key: owner.apiKey,
        body: { type: 'postgres', config: { host: '127.0.0.1', port: 1, database: 'x', user: 'x' } },
      });
      assert.equal(unreachable.status, 422);
      assert.match(unreachable.body.detail, /ECONNREFUSED|connect/);
      const wrongPassword = await call(t, {
        method: 'POST',
        url: '/api/v1/connections/test',
        key: owner.apiKey,
        body: { type: 'mysql', config: { url: `mysql://nosuchuser:wrong@${mysqlUrl.host}/${mysqlDb.name}` } },
      });
      assert.equal(wrongPassword.status, 422);
      assert.match(wrongPassword.body.detail, /Access denied/);
      {
        const pg = await call(t, {
          method: 'POST',
          url: '/api/v1/connections/test',
          key: owner.apiKey,
          body: { type: 'postgres', config: { url: await serverUrl() } },
        });
        assert.equal(pg.status, 200, pg.text);
        assert.match(pg.body.version, /PostgreSQL/);
      }
      const badUrl = await call(t, {
        method: 'POST',
        url: '/api/v1/connections',
        key: owner.apiKey,
        body: { name: 'x', type: 'postgres', config: { url: 'mysql://h/db' } },
      });
      assert.equal(badUrl.status, 400);
      assert.equal(badUrl.body.errors[0].path, 'config.url');
      const demoType = await call(t, {
        method: 'POST',
        url: '/api/v1/connections',
        key: owner.apiKey,
        body: { name: 'x', type: 'demo', config: {} },
      });
      assert.equal(demoType.status, 400);
      const url = await call(t, {
        method: 'POST',
        url: '/api/v1/connections',
        key: owner.apiKey,
        body: {
          name: 'u',
          type: 'postgres',
          config: { url: 'postgres://alice:s3cret@db.internal:6543/sales' },
        },
      });
      assert.deepEqual(url.body.config, {
        url: 'postgres://alice@db.internal:6543/sales',
        ssl: false,
        sslmode: 'disable',
      });
      assert.equal(url.body.hasPassword, true);
    });

    test('SQLite files only from the configured directory', async () => {
      const db = new DatabaseSync(join(sqliteDir, 'shop.db'));
      db.exec(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, price DECIMAL(10,2)); INSERT INTO items VALUES (1, 'Ä, \"b\"', '9.99');",
      );
      db.close();
      await mkdir(join(sqliteDir, '..', 'outside-ferry'), { recursive: true }).catch(() => {});
      const outsideFile = join(tmpdir(), `outside-${process.pid}.db`);
      await writeFile(outsideFile, '');
      await symlink(outsideFile, join(sqliteDir, 'link.db')).catch(() => {});
      for (const path of ['../etc/passwd', outsideFile, 'link.db', 'missing.db']) {
        const r = await call(t, {
          method: 'POST',
          url: '/api/v1/connections',
          key: owner.apiKey,
          body: { name: 's', type: 'sqlite', config: { path } },
        });
        assert.equal(r.status, 400, `${path} → ${r.status}`);
        assert.equal(r.body.errors[0].path, 'config.path');
      }
      const ok = await call(t, {
        method: 'POST',
        url: '/api/v1/connections',
        key: owner.apiKey,
        body: { name: 'Shop', type: 'sqlite', config: { path: 'shop.db' } },
      });
      assert.equal(ok.status, 201, ok.text);
      const p = await previewSql('SELECT * FROM items', [], {}, ok.body.id);
      assert.equal(p.status, 200, p.text);
      assert.deepEqual(p.body.rows, [[1, 'Ä, "b"', '9.99']]);
      const refused = await previewSql("ATTACH DATABASE '/tmp/x.db' AS x", [], {}, ok.body.id);
      assert.equal(refused.status, 400);
      await rm(outsideFile, { force: true });
    });
  });
}
