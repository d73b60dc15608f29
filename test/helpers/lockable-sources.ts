import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createEmptyPostgresDatabase, dropPostgresDatabase, postgresUrl } from './db.ts';
import { createMysqlDatabase, type MysqlTestDb } from './engines.ts';
import { waitFor } from './time.ts';

// Source databases whose reads can be made to wait (a table another session
// locks), to stop, fail or cut them mid-way: for the source-failure tests.

/** A source database with a table `locked` that a second session can lock, so a read waits. */
export interface Engine {
  name: string;
  /** Connection settings for the API, through `via` when given (a proxy). */
  connection(via?: { host: string; port: number }): object;
  target: { host: string; port: number };
  /** Locks `locked` until the returned function is called. */
  lock(): Promise<() => Promise<void>>;
  /** The server's id of a statement on `locked` waiting for the lock, if there is one. */
  waiting(): Promise<number | undefined>;
  /** Whether that statement still runs on the server. */
  running(id: number): Promise<boolean>;
  /** Ends the session on the server, as an administrator (or a restart) would. */
  kill(id: number): Promise<void>;
  close(): Promise<void>;
}

export async function postgresEngine(): Promise<Engine> {
  const name = await createEmptyPostgresDatabase();
  const url = new URL(await postgresUrl(name));
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query('CREATE TABLE locked (id int); INSERT INTO locked VALUES (1)');
  const onLocked = `SELECT pid FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%FROM locked%'`;
  return {
    name: 'PostgreSQL',
    target: { host: url.hostname, port: Number(url.port || 5432) },
    connection: (via) => ({
      host: via?.host ?? url.hostname,
      port: via?.port ?? Number(url.port || 5432),
      database: name,
      user: decodeURIComponent(url.username),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    }),
    async lock() {
      const holder = new pg.Client({ connectionString: url.toString() });
      await holder.connect();
      await holder.query('BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
      return async () => {
        await holder.query('ROLLBACK');
        await holder.end();
      };
    },
    async waiting() {
      const r = await admin.query<{ pid: number }>(`${onLocked} AND wait_event_type = 'Lock'`, [name]);
      return r.rows[0]?.pid;
    },
    async running(pid) {
      const r = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      return r.rows.length > 0;
    },
    async kill(pid) {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    },
    async close() {
      await admin.end();
      await dropPostgresDatabase(name);
    },
  };
}

export async function mariadbEngine(): Promise<Engine> {
  const db: MysqlTestDb = await createMysqlDatabase();
  await db.exec('CREATE TABLE locked (id int); INSERT INTO locked VALUES (1);');
  const url = new URL(db.url);
  const admin = await mysql.createConnection({ uri: db.url });
  const threads = async () => {
    const [rows] = await admin.query(
      'SELECT ID AS id, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
      [db.name],
    );
    return rows as Array<{ id: number; state: string; info: string | null }>;
  };
  return {
    name: 'MariaDB',
    target: { host: url.hostname, port: Number(url.port || 3306) },
    connection: (via) => ({
      host: via?.host ?? url.hostname,
      port: via?.port ?? Number(url.port || 3306),
      database: db.name,
      user: decodeURIComponent(url.username),
    }),
    async lock() {
      const holder = await mysql.createConnection({ uri: db.url });
      await holder.query('LOCK TABLES locked WRITE');
      return async () => {
        await holder.query('UNLOCK TABLES');
        await holder.end();
      };
    },
    async waiting() {
      return (await threads()).find((t) => /metadata lock/.test(t.state) && /FROM locked/.test(t.info ?? ''))
        ?.id;
    },
    async running(id) {
      return (await threads()).some((t) => t.id === id && t.info !== null);
    },
    async kill(id) {
      await admin.query(`KILL CONNECTION ${Number(id)}`);
    },
    async close() {
      await admin.end();
      await db.drop();
    },
  };
}

export const engines: Array<[string, () => Promise<Engine>]> = [
  ['PostgreSQL', postgresEngine],
  ['MariaDB', mariadbEngine],
];

/** A tenant's connection to the engine's database (through `via`, a proxy, when given). */
export async function addConnection(
  api: (method: 'POST', path: string, body: object) => Promise<{ status: number; body: { id?: string } }>,
  e: Engine,
  via?: { host: string; port: number },
): Promise<string> {
  const r = await api('POST', '/api/v1/connections', {
    name: e.name,
    type: e.name === 'MariaDB' ? 'mysql' : 'postgres',
    // The test servers' administrator accounts, confirmed.
    allowPrivilegedUser: true,
    config: e.connection(via),
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return String(r.body.id);
}

/** Calls `during` once the engine's server shows a statement waiting on the lock; returns that statement's id. */
export async function whileWaiting(e: Engine, during: (id: number) => Promise<void> = async () => {}) {
  const id = await waitFor(`${e.name}: a statement to wait on the lock`, () => e.waiting());
  await during(id);
  return id;
}
