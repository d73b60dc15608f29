import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { backends, createTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { TransactionAbortedError } from './db.ts';
import { loadMigrations, migrate, migrationState } from './migrate.ts';

for (const backend of backends()) {
  describe(`Db adapter (${backend})`, () => {
    let d: TestDatabase;
    before(async () => {
      d = await createTestDatabase(backend);
      await d.db.exec('CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)');
    });
    after(() => d.release());

    test('a transaction commits when fn resolves and rolls back when it throws', async () => {
      await d.db.transaction(async (tx) => {
        await tx.query('INSERT INTO t (id) VALUES (1)');
      });
      await assert.rejects(
        d.db.transaction(async (tx) => {
          await tx.query('INSERT INTO t (id) VALUES (2)');
          throw new Error('boom');
        }),
        /boom/,
      );
      const rows = await d.db.query<{ id: number }>('SELECT id FROM t ORDER BY id');
      assert.deepEqual(rows.rows, [{ id: 1 }]);
    });

    test('a failed statement never poisons the next caller', async () => {
      await assert.rejects(d.db.query('SELECT * FROM missing_table'), /missing_table/);
      assert.equal((await d.db.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
      // A multi-statement block with its own BEGIN that fails part-way.
      await assert.rejects(
        d.db.exec('BEGIN; INSERT INTO t (id) VALUES (50); SELECT 1/0; COMMIT;'),
        /division by zero/,
      );
      assert.equal((await d.db.query('SELECT 1 FROM t WHERE id = 50')).rows.length, 0);
      assert.equal((await d.db.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
      await assert.rejects(
        d.db.transaction(async (tx) => {
          await tx.query('INSERT INTO t (id) VALUES (1)');
        }),
        /duplicate key/,
      );
      await d.db.transaction(async (tx) => {
        await tx.query('INSERT INTO t (id) VALUES (3)');
      });
      assert.equal((await d.db.query('SELECT 1 FROM t WHERE id = 3')).rows.length, 1);
    });

    test('a transaction whose statement failed cannot commit, even if fn swallowed the error', async () => {
      await assert.rejects(
        d.db.transaction(async (tx) => {
          await tx.query('INSERT INTO t (id) VALUES (4)');
          await tx.query('INSERT INTO t (id) VALUES (1)').catch(() => {});
          return 'looks fine';
        }),
        TransactionAbortedError,
      );
      assert.equal((await d.db.query('SELECT 1 FROM t WHERE id = 4')).rows.length, 0);
    });

    test('using the Db inside one of its transactions is refused instead of deadlocking', async () => {
      await assert.rejects(
        d.db.transaction(async () => {
          await d.db.query('SELECT 1');
        }),
        /inside a transaction/,
      );
      assert.equal((await d.db.query('SELECT 1 AS x')).rows.length, 1);
    });

    test('concurrent transactions are serialised: no lost updates', async () => {
      await d.db.query('INSERT INTO t (id, n) VALUES (100, 0)');
      await Promise.all(
        Array.from({ length: 20 }, () =>
          d.db.transaction(async (tx) => {
            const row = await tx.query<{ n: number }>('SELECT n FROM t WHERE id = 100 FOR UPDATE');
            await new Promise((r) => setImmediate(r));
            await tx.query('UPDATE t SET n = $1 WHERE id = 100', [row.rows[0]!.n + 1]);
          }),
        ),
      );
      assert.equal((await d.db.query<{ n: number }>('SELECT n FROM t WHERE id = 100')).rows[0]!.n, 20);
    });

    test('int8 and numeric come back as exact strings, timestamptz as Date', async () => {
      const r = await d.db.query<{ big: string; dec: string; at: Date }>(
        "SELECT 9007199254740993::int8 AS big, 12345678901234567890.123456789::numeric AS dec, '2026-03-29T01:00:00Z'::timestamptz AS at",
      );
      assert.equal(r.rows[0]!.big, '9007199254740993');
      assert.equal(r.rows[0]!.dec, '12345678901234567890.123456789');
      assert.equal(r.rows[0]!.at.toISOString(), '2026-03-29T01:00:00.000Z');
    });

    test('migrations are recorded and applying them again changes nothing', async () => {
      const all = await loadMigrations();
      const state = await migrationState(d.db, all);
      assert.equal(state.current, all.length);
      assert.equal(state.isUpToDate, true);
      const again = await migrate(d.db, all);
      assert.deepEqual(again.applied, []);
      const extra = [
        ...all,
        { version: all.length + 1, name: 'probe', sql: 'CREATE TABLE probe_table (x int)' },
      ];
      const applied = await migrate(d.db, extra);
      assert.deepEqual(applied.applied, [`${String(all.length + 1).padStart(4, '0')}_probe`]);
      // The database is now newer than this code: refuse, with a clear message.
      await assert.rejects(migrate(d.db, all), /newer than this Ferry/);
    });
  });
}
