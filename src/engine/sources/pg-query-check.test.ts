import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refusedFunctionReason } from './pg-function-policy.ts';
import {
  findPgPlaceholders,
  inlinePgParameters,
  parsePgReadQuery,
  utf8Offsets,
  verifyPgCopy,
} from './pg-query-check.ts';
import { MAX_SQL_BYTES, SqlRejected } from './sql-rejected.ts';

// PostgreSQL report SQL is judged by PostgreSQL's own parser: these are the
// escapes that a hand-written lexer let through, and the queries that must pass.

const refused = async (sql: string, pattern: RegExp) => {
  await assert.rejects(parsePgReadQuery(sql), (err: unknown) => {
    assert.ok(err instanceof SqlRejected, `${JSON.stringify(sql)}: ${String(err)}`);
    assert.match(err.message, pattern, JSON.stringify(sql));
    return true;
  });
};

describe('PostgreSQL report SQL check (libpg_query)', () => {
  test('a carriage return ends a -- comment, as on the server: the second statement is seen', async () => {
    await refused('SELECT 1 -- note\r; INSERT INTO t VALUES (1)', /Only one statement/);
    await refused('SELECT 1 -- note\r INSERT INTO t VALUES (1)', /not valid SQL/);
    // Only a line feed or carriage return ends it: a form feed or vertical tab does not.
    const q = await parsePgReadQuery('SELECT 1 -- note\f; DROP TABLE t');
    assert.equal(q.params.length, 0);
  });

  test('statements other than one plain query are refused, by their parsed kind', async () => {
    for (const [sql, pattern] of [
      ["COPY (SELECT 1) TO PROGRAM 'id'", /not COPY/],
      ['INSERT INTO t VALUES (1)', /not INSERT/],
      ['DROP TABLE t', /not DROP/],
      ['SET search_path = x', /not SET/],
      ['EXPLAIN ANALYZE DELETE FROM t', /not EXPLAIN/],
      ['SELECT 1; SELECT 2', /Only one statement/],
      ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', /DELETE is not allowed/],
      ['WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u', /UPDATE is not allowed/],
      ['WITH m AS (INSERT INTO t DEFAULT VALUES RETURNING *) SELECT 1', /INSERT is not allowed/],
      ['SELECT 1 INTO new_table', /INTO creates a table/],
      ['SELECT * FROM t FOR UPDATE', /^FOR UPDATE locks rows; reports only read$/],
      ['SELECT * FROM t, LATERAL (SELECT 1 FOR SHARE) x', /FOR SHARE locks rows; reports only read/],
      ['SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED', /FOR NO KEY UPDATE locks rows/],
      ['SELECT * FROM t FOR KEY SHARE', /FOR KEY SHARE locks rows/],
      ['', /empty/],
      ['  ;; -- nothing', /empty/],
    ] as const)
      await refused(sql, pattern);
  });

  test('refused functions are found by parsed, case-folded name however written', async () => {
    for (const sql of [
      "SELECT pg_read_file('/etc/passwd')",
      'SELECT "pg_read_file"(\'/etc/passwd\')',
      'SELECT PG_CATALOG."pg_read_file"(\'/etc/passwd\')',
      'SELECT "PG_READ_FILE"(\'/etc/passwd\')',
      "SELECT * FROM pg_ls_dir('.')",
      "SELECT (pg_stat_file('postgresql.conf')).size",
      'SELECT pg_reload_conf()',
      'SELECT pg_terminate_backend(pg_backend_pid())',
      "SELECT pg_logical_emit_message(true, 'x', 'y')",
      'SELECT pg_advisory_lock(1)',
      'SELECT pg_try_advisory_lock_shared(1)',
      "SELECT set_config('search_path', 'x', false)",
      "SELECT nextval('s')",
      "SELECT lo_import('/etc/passwd')",
      "SELECT query_to_xml('select pg_read_file(''x'')', true, true, '')",
      "SELECT ts_stat('select 1')",
      "SELECT dblink_exec('dbname=x', 'drop table t')",
      'SELECT pg_sleep(100)',
      "SELECT * FROM t WHERE a IN (SELECT pg_notify('c', 'x'))",
      'SELECT count(*) FILTER (WHERE pg_cancel_backend(1)) FROM t',
      'SELECT x.pg_read_file FROM t AS x',
    ])
      await refused(sql, /Reports are read-only: .+\(\) /);
  });

  test('ordinary queries pass, with their $n parameters located', async () => {
    for (const sql of [
      'SELECT 1',
      'VALUES (1), (2)',
      'TABLE customers',
      "WITH r AS (SELECT * FROM t) SELECT now(), current_setting('TimeZone'), count(*) FROM r",
      "SELECT 'pg_read_file(''x'')' AS text_only, $$ DELETE FROM t $$ AS dollar -- pg_sleep(1)",
      'SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1 LIMIT 5',
      'SELECT jsonb_agg(x) FROM (SELECT generate_series(1, 3) AS x) s',
    ])
      await parsePgReadQuery(sql);
    const q = await parsePgReadQuery("SELECT 'é' AS e, $1::int + $2, $1");
    assert.deepEqual(
      q.params.map((p) => [p.number, q.sql.slice(p.start, p.end)]),
      [
        [1, '$1'],
        [2, '$2'],
        [1, '$1'],
      ],
    );
  });

  test('positions are characters in the text the user wrote, not UTF-8 bytes', async () => {
    const sql = "SELECT 'éèê🚀', pg_sleep(1)";
    await assert.rejects(parsePgReadQuery(sql), (err: SqlRejected) => {
      assert.equal(sql.slice(err.position! - 1, err.position! + 7), 'pg_sleep');
      return true;
    });
    const bad = "SELECT 'ü' FROM WHERE";
    await assert.rejects(parsePgReadQuery(bad), (err: SqlRejected) => {
      assert.match(err.message, /syntax error at or near "WHERE"/);
      assert.equal(bad.slice(err.position! - 1), 'WHERE');
      return true;
    });
    const o = utf8Offsets('a🚀b');
    assert.equal(o.toIndex(5), 3);
    assert.equal(o.toByte(3), 5);
  });

  test('{{placeholders}} are found with the server scanner: not in comments, an error in strings', async () => {
    const found = await findPgPlaceholders(
      'SELECT {{a}}, {{ b }} /* {{c}} */ , "{{d}}" -- {{e}}\r, {{f}}, $${{g}}$$ AS x',
    ).catch((err: unknown) => err);
    assert.ok(found instanceof SqlRejected && /\{\{g\}\} is inside quotes/.test(found.message));
    const ok = await findPgPlaceholders('SELECT {{a}}, {{ b }} /* {{c}} */ -- {{e}}\r, {{f}} FROM t');
    assert.deepEqual(
      ok.map((p) => p.name),
      ['a', 'b', 'f'],
    );
  });

  test('inlining parameters keeps the query; a literal cannot break out', async () => {
    const q = await parsePgReadQuery('SELECT $1 AS a, $2 AS b WHERE $1 IS NOT NULL');
    const inlined = await inlinePgParameters(q, [`${"E'x\\\\'' ; DROP TABLE t; --'"}::text`, 'NULL::int4']);
    assert.equal(inlined.params.length, 0);
    await assert.rejects(
      inlinePgParameters(q, ["'x'); DROP TABLE t; --'::text", 'NULL::int4']),
      /not valid SQL|Only one statement|changed the query/,
    );
  });

  test('a COPY statement is sent only when it is one COPY of the checked query to STDOUT', async () => {
    const q = await parsePgReadQuery('SELECT 1 AS a -- trailing comment');
    await verifyPgCopy(`COPY (SELECT ferry_q.c0 AS a FROM (${q.sql}\n) AS ferry_q(c0)) TO STDOUT`, q);
    for (const copy of [
      `COPY (SELECT ferry_q.c0 FROM (${q.sql}\n) AS ferry_q(c0)) TO PROGRAM 'id'`,
      `COPY (SELECT ferry_q.c0 FROM (${q.sql}\n) AS ferry_q(c0)) TO '/tmp/x'`,
      `COPY (SELECT ferry_q.c0 FROM (SELECT 2\n) AS ferry_q(c0)) TO STDOUT`,
      `COPY (SELECT ferry_q.c0 FROM (${q.sql}\n) AS ferry_q(c0)) TO STDOUT; SELECT 1`,
      `COPY (SELECT pg_sleep(1) FROM (${q.sql}\n) AS ferry_q(c0)) TO STDOUT`,
    ])
      await assert.rejects(verifyPgCopy(copy, q), /did not check out/, copy);
  });

  test('texts over 256 KB are refused; a 256 KB text is checked in one linear pass', async () => {
    await refused(`SELECT 1${' '.repeat(MAX_SQL_BYTES)}`, /longer than 256 KB/);
    const columns: string[] = [];
    let size = 0;
    for (let i = 0; size < MAX_SQL_BYTES - 200; i++) {
      const c = `'v${i} -- /* $$' AS c${i}`;
      columns.push(c);
      size += c.length + 2;
    }
    const big = `SELECT ${columns.join(', ')}`;
    assert.ok(Buffer.byteLength(big) <= MAX_SQL_BYTES);
    await parsePgReadQuery(big);
  });

  test('nesting beyond what the parser can hold is a clear refusal, not a crash', async () => {
    await refused(
      `SELECT ${'ARRAY['.repeat(5000)}1${']'.repeat(5000)}`,
      /could not be checked|not valid SQL/,
    );
  });

  test('the function policy: administrative names refused, ordinary ones allowed', () => {
    for (const name of [
      'pg_read_binary_file',
      'pg_ls_waldir',
      'PG_BACKUP_START',
      'pg_stat_reset_shared',
      'lo_unlink',
    ])
      assert.ok(refusedFunctionReason(name), name);
    for (const name of [
      'now',
      'pg_backend_pid',
      'pg_stat_get_numscans',
      'current_setting',
      'lower',
      'currval',
    ])
      assert.equal(refusedFunctionReason(name), null, name);
  });
});
