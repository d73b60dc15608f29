import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import {
  type Call,
  call,
  createKey,
  createTestApp,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import {
  backends,
  createEmptyPostgresDatabase,
  dropPostgresDatabase,
  embeddedTestServer,
  postgresUrl,
  serverUrl,
} from '../helpers/db.ts';
import { createMysqlDatabase, MYSQL_URL, type MysqlTestDb } from '../helpers/engines.ts';
import { TEST_CA, TEST_CLIENT_CERT, TEST_CLIENT_KEY_ENCRYPTED, TEST_KEY_PASSPHRASE } from '../helpers/tls.ts';

// Connection settings against the machine's real servers: the allow-list of
// driver options, sockets, TLS material, secrets that never leave, and the
// privilege check (PostgreSQL as the superuser and as a read-only role made
// here; MariaDB as root and as a SELECT-only user made here).

const suffix = randomBytes(4).toString('hex');
const PG_SUPER_PASSWORD = `pg-super-secret-${suffix}`;
const PG_READER = `ferry_ro_${suffix}`;
const PG_READER_PASSWORD = `pg-reader-secret-${suffix}`;
const MY_READER = `ferry_ro_${suffix}`;
const MY_READER_PASSWORD = `my-reader-secret-${suffix}`;
const SECRETS = [
  PG_SUPER_PASSWORD,
  // The test server's own superuser password, where it has one (the embedded server).
  ...(await superuser()).secrets,
  PG_READER_PASSWORD,
  MY_READER_PASSWORD,
  TEST_KEY_PASSPHRASE,
  'PRIVATE KEY',
];

/**
 * The test server's superuser as a tenant would type it in. A server with trust
 * authentication (the machine's) takes any password: the test gives one, to prove
 * it never shows up again.
 */
async function superuser(): Promise<{
  host: string;
  port: number;
  user: string;
  password: string;
  socketDir: string;
  secrets: string[];
}> {
  const url = new URL(await serverUrl());
  const password = decodeURIComponent(url.password) || PG_SUPER_PASSWORD;
  const socketDir = process.env['TEST_DATABASE_URL']
    ? '/var/run/postgresql'
    : (await embeddedTestServer()).socketDir!;
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password,
    socketDir,
    secrets: url.password ? [password] : [],
  };
}

async function onPostgres(database: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: await postgresUrl(database) });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function onMysql(sql: string): Promise<void> {
  const c = await mysql.createConnection({ uri: MYSQL_URL, multipleStatements: true });
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

for (const backend of backends()) {
  describe(`connection settings and privileges (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let mysqlDb: MysqlTestDb;
    let pgName = '';
    /** Every response body, checked for secrets at the end. */
    const seen: string[] = [];
    const api = async (c: Omit<Call, 'key'>) => {
      const r = await call(t, { ...c, key: owner.apiKey });
      seen.push(r.text);
      return r;
    };
    const create = (body: object) => api({ method: 'POST', url: '/api/v1/connections', body });
    const patch = (id: string, body: object) =>
      api({ method: 'PATCH', url: `/api/v1/connections/${id}`, body });
    const get = (id: string) => api({ url: `/api/v1/connections/${id}` });
    const testSaved = (id: string) => api({ method: 'POST', url: `/api/v1/connections/${id}/test` });
    const audit = async (action: string, targetId: string) =>
      (await api({ url: `/api/v1/audit?action=${action}` })).body.items.filter(
        (i: { target: { id: string } | null }) => i.target?.id === targetId,
      );

    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
      mysqlDb = await createMysqlDatabase();
      await mysqlDb.exec(
        "CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items VALUES (1, 'a');",
      );
      await onMysql(
        `CREATE USER '${MY_READER}'@'%' IDENTIFIED BY '${MY_READER_PASSWORD}'; GRANT SELECT ON ${mysqlDb.name}.* TO '${MY_READER}'@'%';`,
      );
      pgName = await createEmptyPostgresDatabase();
      await onPostgres(
        pgName,
        `CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items VALUES (1, 'a');
           REVOKE CREATE ON SCHEMA public FROM PUBLIC;
           CREATE ROLE ${PG_READER} LOGIN PASSWORD '${PG_READER_PASSWORD}';
           GRANT CONNECT ON DATABASE ${pgName} TO ${PG_READER};
           GRANT USAGE ON SCHEMA public TO ${PG_READER};
           GRANT SELECT ON items TO ${PG_READER};`,
      );
    });
    after(async () => {
      await t.close();
      await mysqlDb.drop();
      await onMysql(`DROP USER IF EXISTS '${MY_READER}'@'%'`);
      await dropPostgresDatabase(pgName);
      await onPostgres('postgres', `DROP ROLE IF EXISTS ${PG_READER}`);
    });

    test('an option outside the allow-list is a 400 naming it, in a URL or in the field form', async () => {
      const cases: Array<[object, string, RegExp]> = [
        [
          {
            type: 'mysql',
            config: { url: `mysql://root@127.0.0.1/${mysqlDb.name}?multipleStatements=true` },
          },
          'config.url',
          /^option multipleStatements is not allowed; allowed: ssl-mode, sslMode, ssl, charset, connectTimeout, socketPath$/,
        ],
        [
          { type: 'mysql', config: { url: `mysql://root@127.0.0.1/${mysqlDb.name}?debug=true` } },
          'config.url',
          /^option debug is not allowed/,
        ],
        [
          { type: 'postgres', config: { url: 'postgres://u@127.0.0.1/db?sslrootcert=/etc/passwd' } },
          'config.url',
          /^option sslrootcert is not allowed \(give certificates as PEM text in config.tls.ca, never as a file path\)/,
        ],
        [
          {
            type: 'postgres',
            config: { url: 'postgres://u@127.0.0.1/db?options=-c%20default_transaction_read_only%3Doff' },
          },
          'config.url',
          /^option options is not allowed/,
        ],
        [
          {
            type: 'mysql',
            config: { host: '127.0.0.1', database: 'd', user: 'u', options: { multipleStatements: true } },
          },
          'config.options.multipleStatements',
          /^multipleStatements is not allowed; allowed: ssl-mode, sslMode, ssl, charset, connectTimeout$/,
        ],
        [
          {
            type: 'mysql',
            config: { host: '127.0.0.1', database: 'd', user: 'u', socketPath: '/run/mysqld/mysqld.sock' },
          },
          'config.socketPath',
          /is not a known field/,
        ],
        [
          { type: 'postgres', config: { host: '/var/run/postgresql', database: 'd', user: 'u' } },
          'config.host',
          /unix socket.*FERRY_ALLOW_SOCKETS=true/,
        ],
        [
          { type: 'postgres', config: { url: 'postgres://u@/db?host=/var/run/postgresql' } },
          'config.url',
          /option host is a unix socket path/,
        ],
        [
          {
            type: 'postgres',
            config: { host: '127.0.0.1', database: 'd', user: 'u', tls: { ca: '/etc/ssl/certs/ca.pem' } },
          },
          'config.tls.ca',
          /PEM text.*not a file path/,
        ],
      ];
      for (const [body, path, message] of cases) {
        for (const url of ['/api/v1/connections', '/api/v1/connections/test']) {
          const r = await api({
            method: 'POST',
            url,
            body: url.endsWith('test') ? body : { name: 'x', ...body },
          });
          assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
          assert.match(String(r.headers['content-type']), /application\/problem\+json/);
          assert.equal(r.body.errors[0].path, path);
          assert.match(r.body.errors[0].message, message);
        }
      }
      const allowed = await create({
        name: 'allowed options',
        type: 'mysql',
        allowPrivilegedUser: true,
        config: {
          url: `mysql://root@127.0.0.1:3306/${mysqlDb.name}?ssl-mode=DISABLED&charset=utf8mb4_bin&connectTimeout=4000`,
        },
      });
      assert.equal(allowed.status, 201, allowed.text);
      const tested = await testSaved(allowed.body.id);
      assert.equal(tested.status, 200, tested.text);
    });

    test('MariaDB: root is refused until confirmed, and its ALL PRIVILEGES, FILE and SUPER are listed', async () => {
      const body = {
        name: 'MariaDB root',
        type: 'mysql',
        config: { host: '127.0.0.1', port: 3306, database: mysqlDb.name, user: 'root' },
      };
      const refused = await create(body);
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.body.errors[0].path, 'allowPrivilegedUser');
      assert.match(refused.body.detail, /administrator account.*allowPrivilegedUser: true/);
      const created = await create({ ...body, allowPrivilegedUser: true });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.allowPrivilegedUser, true);
      const warnings: string[] = created.body.privilegeWarnings;
      assert.ok(
        warnings.some((w) => w.startsWith('has ALL PRIVILEGES ON *.*')),
        warnings.join('\n'),
      );
      assert.ok(warnings.some((w) => w.startsWith('has FILE')));
      assert.ok(warnings.some((w) => w.startsWith('has SUPER')));
      assert.ok(created.body.privilegesCheckedAt);
      const [entry] = await audit('connection.created', created.body.id);
      assert.deepEqual(entry.details.privilegeWarnings, warnings);
      assert.equal(entry.details.allowPrivilegedUser, true);
      // Withdrawing the confirmation is checked like new settings.
      const withdrawn = await patch(created.body.id, { allowPrivilegedUser: false });
      assert.equal(withdrawn.status, 422);
      assert.equal((await get(created.body.id)).body.allowPrivilegedUser, true);
    });

    test('MariaDB: a SELECT-only user has no warning; a granted write shows up at the next test', async () => {
      const created = await create({
        name: 'MariaDB reader',
        type: 'mysql',
        config: { url: `mysql://${MY_READER}:${MY_READER_PASSWORD}@127.0.0.1:3306/${mysqlDb.name}` },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.privilegeWarnings, []);
      assert.equal(created.body.hasPassword, true);
      assert.equal(created.body.config.url, `mysql://${MY_READER}@127.0.0.1:3306/${mysqlDb.name}`);
      const p = await api({
        method: 'POST',
        url: '/api/v1/reports/preview',
        body: { report: { connectionId: created.body.id, sql: 'SELECT id, note FROM items' } },
      });
      assert.equal(p.status, 200, p.text);
      assert.deepEqual(p.body.rows, [[1, 'a']]);
      await onMysql(`GRANT INSERT ON ${mysqlDb.name}.items TO '${MY_READER}'@'%'`);
      const tested = await testSaved(created.body.id);
      assert.equal(tested.status, 200, tested.text);
      assert.deepEqual(tested.body.privilegeWarnings, [
        `can change data or tables (INSERT) on \`${mysqlDb.name}\`.\`items\``,
      ]);
      assert.equal(tested.body.isPrivilegedUser, false);
      assert.deepEqual((await get(created.body.id)).body.privilegeWarnings, tested.body.privilegeWarnings);
      const [entry] = await audit('connection.privileges_checked', created.body.id);
      assert.deepEqual(entry.details.privilegeWarnings, tested.body.privilegeWarnings);
      assert.equal(entry.actor.type, 'api_key');
    });

    test('TLS settings reach the driver: a server without TLS refuses sslmode require', async () => {
      const r = await api({
        method: 'POST',
        url: '/api/v1/connections/test',
        body: {
          type: 'mysql',
          config: { url: `mysql://root@127.0.0.1:3306/${mysqlDb.name}?ssl-mode=REQUIRED` },
        },
      });
      assert.equal(r.status, 422, r.text);
      assert.match(r.body.detail, /secure connection|SSL|TLS/i);
      {
        const su = await superuser();
        const p = await api({
          method: 'POST',
          url: '/api/v1/connections/test',
          body: {
            type: 'postgres',
            config: { url: `postgres://${su.user}@${su.host}:${su.port}/${pgName}?sslmode=require` },
          },
        });
        assert.equal(p.status, 422, p.text);
        assert.match(p.body.detail, /does not support SSL/);
      }
    });

    test('TLS material is stored as PEM: certificates shown, the key and its passphrase never', async () => {
      const created = await create({
        name: 'TLS',
        type: 'postgres',
        config: {
          url: 'postgres://alice@db.invalid:5432/sales?sslmode=verify-full',
          tls: {
            ca: TEST_CA,
            cert: TEST_CLIENT_CERT,
            key: TEST_CLIENT_KEY_ENCRYPTED,
            passphrase: TEST_KEY_PASSPHRASE,
          },
        },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.config, {
        url: 'postgres://alice@db.invalid:5432/sales?sslmode=verify-full',
        ssl: true,
        sslmode: 'verify-full',
        tls: { ca: TEST_CA, cert: TEST_CLIENT_CERT, hasKey: true, hasPassphrase: true },
      });
      // Not reachable: saved, checked on first use.
      assert.equal(created.body.privilegesCheckedAt, null);
      const [entry] = await audit('connection.created', created.body.id);
      assert.match(entry.details.privilegeCheck, /not possible now/);
      const stored = await t.ctx.db.query<{ config: object }>(
        'SELECT config FROM connections WHERE id = $1',
        [created.body.id],
      );
      assert.ok(!JSON.stringify(stored.rows[0]).includes('PRIVATE KEY'));
      const removed = await patch(created.body.id, {
        config: { url: 'postgres://alice@db.invalid/sales', tls: null },
      });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(removed.body.config.tls, undefined);
    });

    test('PostgreSQL superuser: refused without allowPrivilegedUser, saved with it, warnings listed and audited', async () => {
      const su = await superuser();
      const body = {
        name: 'PostgreSQL as postgres',
        type: 'postgres',
        config: {
          url: `postgres://${su.user}:${encodeURIComponent(su.password)}@${su.host}:${su.port}/${pgName}?application_name=ferry-test`,
        },
      };
      const refused = await create(body);
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.body.errors[0].path, 'allowPrivilegedUser');
      assert.match(refused.body.errors[0].message, /superuser/);
      const created = await create({ ...body, allowPrivilegedUser: true });
      assert.equal(created.status, 201, created.text);
      assert.equal(
        created.body.config.url,
        `postgres://${su.user}@${su.host}:${su.port}/${pgName}?application_name=ferry-test`,
      );
      assert.equal(created.body.hasPassword, true);
      assert.equal(created.body.privilegeWarnings.length, 1);
      assert.match(created.body.privilegeWarnings[0], /^connects as a superuser/);
      const tested = await testSaved(created.body.id);
      assert.equal(tested.status, 200, tested.text);
      assert.equal(tested.body.isPrivilegedUser, true);
      const [entry] = await audit('connection.created', created.body.id);
      assert.deepEqual(entry.details.privilegeWarnings, created.body.privilegeWarnings);
    });

    test('PostgreSQL: a read-only role has no warning; granted writes show up after a test and an update', async () => {
      const su = await superuser();
      const created = await create({
        name: 'PostgreSQL reader',
        type: 'postgres',
        config: {
          host: su.host,
          port: su.port,
          database: pgName,
          user: PG_READER,
          password: PG_READER_PASSWORD,
        },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.privilegeWarnings, []);
      assert.ok(created.body.privilegesCheckedAt);
      const id = created.body.id;
      const p = await api({
        method: 'POST',
        url: '/api/v1/reports/preview',
        body: { report: { connectionId: id, sql: 'SELECT id, note FROM items' } },
      });
      assert.equal(p.status, 200, p.text);
      await onPostgres(pgName, `GRANT INSERT ON items TO ${PG_READER}`);
      const tested = await testSaved(id);
      assert.equal(tested.status, 200, tested.text);
      assert.deepEqual(tested.body.privilegeWarnings, [
        'can change data (INSERT, UPDATE, DELETE, TRUNCATE or TRIGGER) in 1 table: public.items',
      ]);
      assert.deepEqual((await get(id)).body.privilegeWarnings, tested.body.privilegeWarnings);
      await onPostgres(
        pgName,
        `REVOKE INSERT ON items FROM ${PG_READER}; GRANT CREATE ON SCHEMA public TO ${PG_READER}`,
      );
      const updated = await patch(id, { config: { options: { application_name: 'ferry-reader' } } });
      assert.equal(updated.status, 200, updated.text);
      assert.deepEqual(updated.body.privilegeWarnings, ['can create objects in schema public']);
      assert.deepEqual(updated.body.config.options, { application_name: 'ferry-reader' });
      const [entry] = await audit('connection.updated', id);
      assert.deepEqual(entry.details.privilegeWarnings, ['can create objects in schema public']);
    });

    test('settings not checked since a change are checked on first use; an unconfirmed superuser is refused there', async () => {
      const su = await superuser();
      const created = await create({
        name: 'checked on first use',
        type: 'postgres',
        allowPrivilegedUser: true,
        config: { host: su.host, port: su.port, database: pgName, user: su.user, password: su.password },
      });
      assert.equal(created.status, 201, created.text);
      const id = created.body.id;
      const report = await api({
        method: 'POST',
        url: '/api/v1/reports',
        body: { name: 'one', connectionId: id, sql: 'SELECT 1 AS one' },
      });
      assert.equal(report.status, 201, report.text);
      // As a row from before this check existed: no confirmation, never checked (a new version of its settings).
      await t.ctx.db.query(
        `UPDATE connections SET allow_privileged_user = false, privilege_warnings = '[]', privileged_user = false,
                privileges_checked_at = NULL, updated_at = updated_at + interval '1 second' WHERE id = $1`,
        [id],
      );
      const preview = await api({
        method: 'POST',
        url: `/api/v1/reports/${report.body.id}/preview`,
        body: {},
      });
      assert.equal(preview.status, 422, preview.text);
      assert.equal(preview.body.errors[0].path, 'allowPrivilegedUser');
      const after = (await get(id)).body;
      assert.match(after.privilegeWarnings[0], /^connects as a superuser/);
      assert.ok(after.privilegesCheckedAt);
      const [entry] = await audit('connection.privileges_checked', id);
      assert.equal(entry.actor.type, 'system');
      assert.deepEqual(entry.details.privilegeWarnings, after.privilegeWarnings);
      // Confirmed, it works again.
      assert.equal((await patch(id, { allowPrivilegedUser: true })).status, 200);
      const again = await api({ method: 'POST', url: `/api/v1/reports/${report.body.id}/preview`, body: {} });
      assert.equal(again.status, 200, again.text);
    });

    test('a connection saved with a whole URL before this change is read through the same allow-list', async () => {
      const legacy = async (url: string) => {
        const id = randomUUID();
        await t.ctx.db.query(
          `INSERT INTO connections (id, tenant_id, name, type, config, secret) VALUES ($1, $2, 'legacy', 'mysql', $3, $4)`,
          [
            id,
            owner.tenantId,
            JSON.stringify({
              form: 'url',
              host: '127.0.0.1',
              port: 3306,
              database: mysqlDb.name,
              user: 'x',
              ssl: false,
            }),
            t.ctx.secrets.encrypt(JSON.stringify({ url }), `connection:${id}`),
          ],
        );
        return id;
      };
      const good = await legacy(`mysql://${MY_READER}:${MY_READER_PASSWORD}@127.0.0.1:3306/${mysqlDb.name}`);
      const shown = (await get(good)).body;
      assert.equal(shown.config.url, `mysql://${MY_READER}@127.0.0.1:3306/${mysqlDb.name}`);
      assert.equal(shown.hasPassword, true);
      assert.equal(shown.privilegesCheckedAt, null);
      const tested = await testSaved(good);
      assert.equal(tested.status, 200, tested.text);
      assert.ok((await get(good)).body.privilegesCheckedAt);
      const bad = await legacy(
        `mysql://root@127.0.0.1:3306/${mysqlDb.name}?multipleStatements=true&debug=true`,
      );
      assert.equal((await get(bad)).body.config.url, `mysql://root@127.0.0.1:3306/${mysqlDb.name}`);
      const refused = await testSaved(bad);
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.errors[0].path, 'config.url');
      assert.match(refused.body.errors[0].message, /option multipleStatements is not allowed/);
      await api({ method: 'DELETE', url: `/api/v1/connections/${bad}` });
    });

    test('no password, key or passphrase appears in any response: list, get, create, update', async () => {
      const fields = await create({
        name: 'fields form',
        type: 'mysql',
        config: { host: '127.0.0.1', database: mysqlDb.name, user: MY_READER, password: MY_READER_PASSWORD },
      });
      assert.equal(fields.status, 201, fields.text);
      assert.equal(fields.body.hasPassword, true);
      const renamed = await patch(fields.body.id, { name: 'fields form, renamed' });
      assert.equal(renamed.body.hasPassword, true);
      const list = await api({ url: '/api/v1/connections?limit=500' });
      for (const item of list.body.items) await get(item.id);
      const viewer = await createKey(t, owner.apiKey, 'viewer');
      const asViewer = await call(t, { url: '/api/v1/connections?limit=500', key: viewer });
      assert.equal(asViewer.status, 200);
      seen.push(asViewer.text);
      const all = seen.join('\n');
      for (const secret of SECRETS) assert.ok(!all.includes(secret), `a response shows ${secret}`);
    });

    test('with FERRY_ALLOW_SOCKETS=true a socket host is accepted', async () => {
      const su = await superuser();
      const withSockets = await createTestApp(backend, { env: { FERRY_ALLOW_SOCKETS: 'true' } });
      try {
        const admin = await setupFirstTenant(withSockets);
        const r = await call(withSockets, {
          method: 'POST',
          url: '/api/v1/connections',
          key: admin.apiKey,
          body: {
            name: 'socket',
            type: 'postgres',
            allowPrivilegedUser: true,
            config: {
              host: su.socketDir,
              port: su.port,
              database: pgName,
              user: su.user,
              password: su.password,
            },
          },
        });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.config.host, su.socketDir);
        assert.equal(r.body.config.port, su.port);
        const tested = await call(withSockets, {
          method: 'POST',
          url: `/api/v1/connections/${r.body.id}/test`,
          key: admin.apiKey,
        });
        assert.equal(tested.status, 200, tested.text);
      } finally {
        await withSockets.close();
      }
    });
  });
}
