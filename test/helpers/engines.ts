import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import mysql from 'mysql2/promise';
import { requireTier } from './tiers.ts';

// Real source databases for tests: a fresh MariaDB/MySQL database and SQLite files.

export const MYSQL_URL = process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test';

export interface MysqlTestDb {
  url: string;
  name: string;
  exec(sql: string): Promise<void>;
  drop(): Promise<void>;
}

export async function createMysqlDatabase(): Promise<MysqlTestDb> {
  requireTier('db', 'it uses the MariaDB test database');
  const name = `ferry_t_${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: MYSQL_URL, multipleStatements: true });
  await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async exec(sql) {
      const c = await mysql.createConnection({ uri: url.toString(), multipleStatements: true });
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    },
    async drop() {
      const c = await mysql.createConnection({ uri: MYSQL_URL });
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    },
  };
}

export async function createSqliteFile(
  sql: string,
): Promise<{ dir: string; file: string; path: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-'));
  const file = 'fixture.db';
  const db = new DatabaseSync(join(dir, file));
  db.exec(sql);
  db.close();
  return { dir, file, path: join(dir, file), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The same fixture on every engine: one row with every hard value, one row of NULLs. */
export const fixtureSql = {
  postgres: `CREATE TABLE fixture (id int PRIMARY KEY, name text, amount numeric(14,4), big bigint, ratio double precision, flag boolean,
      day date, at_local timestamp, at_utc timestamptz, payload jsonb, raw bytea, uid uuid);
    INSERT INTO fixture VALUES (1, E'O''Brien, "Quoted"\\nline 2 🚀 Zoë', -1234.5678, 9007199254740993, 0.1, true, '2026-03-29', '2026-03-29 02:30:00',
      '2026-03-29T01:00:00Z', '{"a":[1,2],"b":"ü"}', '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`,
  mysql: `CREATE TABLE fixture (id int PRIMARY KEY, name text, amount decimal(14,4), big bigint, ratio double, flag tinyint(1),
      day date, at_local datetime, at_utc timestamp NULL, payload json, raw varbinary(16), uid char(36));
    SET time_zone = '+00:00';
    INSERT INTO fixture VALUES (1, 'O''Brien, "Quoted"\\nline 2 🚀 Zoë', -1234.5678, 9007199254740993, 0.1, 1, '2026-03-29', '2026-03-29 02:30:00',
      '2026-03-29 01:00:00', '{"a":[1,2],"b":"ü"}', X'00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`,
  sqlite: `CREATE TABLE fixture (id INTEGER PRIMARY KEY, name TEXT, amount DECIMAL(14,4), big BIGINT, ratio REAL, flag BOOLEAN,
      day DATE, at_local DATETIME, at_utc TIMESTAMPTZ, payload JSON, raw BLOB, uid UUID);
    INSERT INTO fixture VALUES (1, 'O''Brien, "Quoted"' || char(10) || 'line 2 🚀 Zoë', '-1234.5678', 9007199254740993, 0.1, 1, '2026-03-29', '2026-03-29 02:30:00',
      '2026-03-29T01:00:00Z', '{"a":[1,2],"b":"ü"}', X'00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`,
};
