import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import pg from 'pg';
import { createEmptyPostgresDatabase, dropPostgresDatabase, postgresUrl } from '../../../test/helpers/db.ts';
import {
  type CsvOptions,
  csvEncoder,
  defaultCsvOptions,
  defaultJsonOptions,
  jsonEncoder,
} from '../formats/text-formats.ts';
import { exportCopyToStream, exportToStream } from '../pipeline.ts';
import { createPostgresSource } from './postgres.ts';
import type { Source } from './types.ts';

// The COPY fast path must write exactly the bytes the row path writes, for every
// type it accepts and every CSV option; where it cannot, it must decline.

const FIXTURE = `CREATE TABLE hard (id int, big bigint, amount numeric(14,4), flag boolean, day date, at timestamptz, local timestamp, t time,
    name text, code char(4), label varchar(50), uid uuid);
  INSERT INTO hard VALUES
    (1, 9007199254740993, -1234.5678, true, '2026-03-29', '2026-03-29 01:00:00.123456+00', '2026-03-29 02:30:00.5', '23:59:59',
     E'O''Brien, "Quoted"\\nline 2 🚀 Zoë', 'EU', '=HYPERLINK("x")', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (2, -5, 0.1, false, '1999-12-31', '1999-12-31 23:59:59+05', '1999-12-31 23:59:59', '00:00:00', '', 'X', 'NULL', NULL),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (4, 0, 100, true, '2026-01-01', 'infinity', '2026-01-01 00:00:00', '12:00:00', ' padded ', 'ABCD', '-2+3', NULL),
    (5, 1, 1, true, '2026-01-01', '2026-06-15 12:00:00+02', '2026-01-01 00:00:00', '12:00:00', E'tab\\there;semi', 'a;b', '@cmd', NULL),
    (6, 2, 2, false, '0044-03-15 BC', '0044-03-15 12:00:00+00 BC', '0044-03-15 12:00:00 BC', '00:00:01', '-3, "minus"', '=A1', 'true', NULL),
    (7, 3, 3, true, '0001-01-01', '0001-01-01 00:00:00.5+00', '10000-01-01 00:00:00', '00:00:02', E'\\n+', '+', '', NULL),
    (8, 4, 4, false, '9999-12-31', '10000-01-01 00:00:00+00', '9999-12-31 23:59:59.999999', '00:00:03', 'NULL', 'true', 't', NULL);`;

async function collect(run: (out: Writable) => Promise<{ rows: number; sha256: string }>) {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(c, _e, done) {
      chunks.push(c);
      done();
    },
  });
  const result = await run(out);
  return { ...result, data: Buffer.concat(chunks) };
}

const limits = { maxRows: 1e9, maxBytes: 1e12 };
const none = { kind: 'none' as const };

if (process.env['TEST_DATABASE_URL']) {
  describe('PostgreSQL COPY fast path for CSV', () => {
    let name: string;
    let source: Source;
    before(async () => {
      name = await createEmptyPostgresDatabase();
      const c = new pg.Client({ connectionString: await postgresUrl(name) });
      await c.connect();
      await c.query(FIXTURE);
      await c.end();
      source = createPostgresSource({ connectionString: await postgresUrl(name) });
    });
    after(async () => {
      await source.close();
      await dropPostgresDatabase(name);
    });

    /** The export both ways: rows through a cursor and the CSV writer, and COPY with its rewrites. */
    async function bothPaths(query: { sql: string; values: unknown[] }, options: CsvOptions) {
      const rowPath = await collect(async (out) =>
        exportToStream({
          rows: await source.openRows(query, new AbortController().signal),
          encoder: csvEncoder(options),
          compression: none,
          out,
          signal: new AbortController().signal,
          limits,
        }),
      );
      const copy = await source.copyCsv!(query, options, new AbortController().signal);
      assert.ok(copy, 'the fast path accepts this query');
      const fast = await collect((out) =>
        exportCopyToStream({
          source: copy.stream,
          text: { ...options, rewrites: copy.rewrites },
          bom: options.bom,
          compression: none,
          out,
          signal: new AbortController().signal,
          limits,
        }),
      );
      return { rowPath, fast, rewrites: copy.rewrites };
    }

    const variants: Array<[string, CsvOptions]> = [
      ['defaults (CRLF, header, protection)', defaultCsvOptions],
      ['LF with BOM', { ...defaultCsvOptions, lineEnding: '\n', bom: true }],
      [
        'semicolon, NULL text, no header',
        { ...defaultCsvOptions, delimiter: ';', nullText: 'NULL', header: false },
      ],
      ['tab, formula protection off', { ...defaultCsvOptions, delimiter: '\t', formulaProtection: false }],
      ['single quote as quote', { ...defaultCsvOptions, quote: "'" }],
      ['NULL text "true", pipe delimiter', { ...defaultCsvOptions, delimiter: '|', nullText: 'true' }],
      ['NULL text "t", LF', { ...defaultCsvOptions, nullText: 't', lineEnding: '\n' }],
    ];
    for (const [label, options] of variants) {
      test(`same bytes as the row path: ${label}`, async () => {
        const { rowPath, fast } = await bothPaths(
          { sql: 'SELECT * FROM hard ORDER BY id', values: [] },
          options,
        );
        assert.equal(fast.data.toString(), rowPath.data.toString());
        assert.equal(fast.rows, 8);
        assert.equal(fast.sha256, rowPath.sha256);
      });
    }

    test('50,000 rows over many COPY chunks: the same bytes, with the rewrites done in JavaScript', async () => {
      const query = {
        sql: `SELECT i AS id, CASE WHEN i % 7 = 0 THEN '=f(' || i || ')' WHEN i % 11 = 0 THEN E'two\\nlines, "' || i || '"' ELSE 'n' || i END AS name,
                     i % 3 = 0 AS flag, timestamptz '2020-01-01 00:00:00+00' + i * interval '1.001 second' AS at,
                     CASE WHEN i % 13 = 0 THEN NULL ELSE timestamp '2020-01-01' + i * interval '1 minute' END AS local
                FROM generate_series(1, 50000) AS i`,
        values: [],
      };
      const options = defaultCsvOptions;
      const { rowPath, fast, rewrites } = await bothPaths(query, options);
      assert.deepEqual(rewrites, [null, 'formula', 'boolean', 'instant', 'timestamp']);
      assert.equal(fast.rows, 50_000);
      assert.ok(fast.data.length > 1_000_000);
      assert.equal(fast.sha256, rowPath.sha256);
      assert.ok(fast.data.equals(rowPath.data));
      // Options that rule the rewrites out keep them in SQL, with the same result.
      const inSql = await source.copyCsv!(
        { sql: 'SELECT true AS t', values: [] },
        { ...options, quote: "'" },
        new AbortController().signal,
      );
      assert.deepEqual(inSql!.rewrites, [null]);
      inSql!.stream.resume();
    });

    test('bound parameters become typed literals: the same rows and bytes as binding them', async () => {
      const query = {
        sql: `SELECT id AS id$1, name, at, day, flag, $1::text AS echo, $6 AS untyped, '$2 stays' AS literal, $9 AS since
                FROM hard JOIN (SELECT 1 AS one) AS k ON at >= $9 OR true -- $9's type is deduced here first
               WHERE (id = $2 OR name = $3 OR day >= $4 OR flag = $5 OR $8::int IS NULL) AND id <> ALL (ARRAY[$7::int])
               ORDER BY id`,
        values: [
          "O'Brien \\ back\\slash $1",
          1,
          'NULL',
          '2026-01-01',
          false,
          "it's",
          99,
          null,
          '2026-01-01 00:00',
        ],
      };
      const { rowPath, fast } = await bothPaths(query, defaultCsvOptions);
      assert.ok(rowPath.rows >= 3, `the filter keeps rows (${rowPath.rows})`);
      assert.equal(fast.data.toString(), rowPath.data.toString());
      assert.match(
        fast.data.toString(),
        /O'Brien \\ back\\slash \$1,it's,\$2 stays,2026-01-01T00:00:00.000Z/,
      );
      assert.equal(fast.sha256, rowPath.sha256);
    });

    test('parameters of types with a length, non-ASCII dollar quotes and identifiers, dates in the session order, a trailing comment', async () => {
      const cases: Array<{ sql: string; values: unknown[]; expect: RegExp }> = [
        // char(n) and bit(n): cast to bpchar and bit without a length, not to char(1) and bit(1)
        {
          sql: `SELECT id FROM (VALUES (1, 'AB'::char(5)), (2, 'ABC'::char(5))) AS t(id, code) WHERE code = $1`,
          values: ['ABC'],
          expect: /^id\r\n2\r\n$/,
        },
        {
          sql: `SELECT id FROM (VALUES (1, B'101'), (2, B'001')) AS t(id, flags) WHERE flags = $1`,
          values: ['101'],
          expect: /^id\r\n1\r\n$/,
        },
        // a $1 inside a dollar-quoted string with a non-ASCII tag is text, and a value cannot break out of it
        {
          sql: 'SELECT $é$ $1 $é$ AS s, $1::text AS v',
          values: ['$é$||current_user||$é$'],
          expect: /^s,v\r\n \$1 ,\$é\$\|\|current_user\|\|\$é\$\r\n$/,
        },
        { sql: 'SELECT 1 AS €$1, $1::text AS v', values: ['x'], expect: /^€\$1,v\r\n1,x\r\n$/ },
        // the date's field order is the session's on both paths
        {
          sql: `SELECT d FROM (VALUES (date '2003-01-02'), (date '2001-02-03')) AS t(d) WHERE d = $1`,
          values: ['01/02/03'],
          expect: /^d\r\n\d{4}-\d\d-\d\d\r\n$/,
        },
        { sql: 'SELECT 1 AS a -- a note', values: [], expect: /^a\r\n1\r\n$/ },
        // one column: a lone \. is quoted, in the header too, as COPY does
        { sql: `SELECT E'\\\\.' AS "\\."`, values: [], expect: /^"\\\."\r\n"\\\."\r\n$/ },
      ];
      for (const c of cases) {
        const { rowPath, fast } = await bothPaths({ sql: c.sql, values: c.values }, defaultCsvOptions);
        assert.equal(fast.data.toString(), rowPath.data.toString(), c.sql);
        assert.match(fast.data.toString(), c.expect, c.sql);
      }
      // A NULL text that COPY refuses (it holds the delimiter, the quote or a line break): the row path writes it.
      for (const nullText of ['n/a', '"none"', 'a\nb'])
        assert.equal(
          await source.copyCsv!(
            { sql: 'SELECT NULL::int AS v', values: [] },
            { ...defaultCsvOptions, delimiter: '/', nullText },
            new AbortController().signal,
          ),
          null,
          nullText,
        );
    });

    test('declines values it cannot write as the driver would, statements that do not prepare, and types whose text differs; enforces the row limit', async () => {
      const signal = new AbortController().signal;
      assert.equal(
        await source.copyCsv!(
          { sql: 'SELECT $1::date AS d', values: [new Date()] },
          defaultCsvOptions,
          signal,
        ),
        null,
      );
      assert.equal(
        await source.copyCsv!({ sql: 'SELECT $1 + $2 AS x', values: [1, 2] }, defaultCsvOptions, signal),
        null,
        'operator is not unique: unknown + unknown; the row path reports it',
      );
      assert.equal(
        await source.copyCsv!({ sql: `SELECT '{"a":1}'::jsonb AS j`, values: [] }, defaultCsvOptions, signal),
        null,
      );
      assert.equal(
        await source.copyCsv!({ sql: 'SELECT 0.1::float8 AS f', values: [] }, defaultCsvOptions, signal),
        null,
      );
      const copy = await source.copyCsv!(
        { sql: 'SELECT g FROM generate_series(1, 1000) g', values: [] },
        defaultCsvOptions,
        signal,
      );
      await assert.rejects(
        collect((out) =>
          exportCopyToStream({
            source: copy!.stream,
            text: { ...defaultCsvOptions, rewrites: copy!.rewrites },
            bom: false,
            compression: none,
            out,
            signal,
            limits: { maxRows: 10, maxBytes: 1e12 },
          }),
        ),
        /exceeds the limit of 10 rows/,
      );
      // The pool is still healthy afterwards.
      const again = await source.copyCsv!({ sql: 'SELECT 1 AS one', values: [] }, defaultCsvOptions, signal);
      assert.equal(
        (
          await collect((out) =>
            exportCopyToStream({
              source: again!.stream,
              text: { ...defaultCsvOptions, lineEnding: '\n', rewrites: again!.rewrites },
              bom: false,
              compression: none,
              out,
              signal,
              limits,
            }),
          )
        ).data.toString(),
        'one\n1\n',
      );
    });

    test('random instants keep their microseconds on both paths and in JSON, as the server writes them', async () => {
      // 400 instants across four centuries, most with microseconds, some cut to
      // milliseconds or seconds; the expected text comes from PostgreSQL's own
      // rendering of each value, read back with an independent CSV parser.
      const query = {
        sql: `SELECT i, v, (v AT TIME ZONE 'UTC')::text AS server_text FROM (
                SELECT i, CASE i % 4 WHEN 0 THEN date_trunc('millisecond', r) WHEN 1 THEN date_trunc('second', r) ELSE r END AS v
                  FROM (SELECT i, timestamptz '1850-01-01 00:00:00+00' + random() * interval '400 years' AS r
                          FROM generate_series(1, 400) AS i) AS g) AS t ORDER BY i`,
        values: [],
      };
      const expectedText = (server: string) => {
        const [whole, fraction = ''] = server.split('.');
        const digits = fraction.length > 3 ? fraction.padEnd(6, '0') : fraction.padEnd(3, '0');
        return `${whole!.replace(' ', 'T')}.${digits}Z`;
      };
      const withMicros = { n: 0 };
      // The default options rewrite the server's text in JavaScript; a letter-like quote keeps the work in SQL.
      for (const options of [defaultCsvOptions, { ...defaultCsvOptions, quote: "'" }]) {
        const { rowPath, fast } = await bothPaths(query, options);
        for (const data of [rowPath.data, fast.data]) {
          const records = parseCsv(data, { quote: options.quote }) as string[][];
          assert.equal(records.length, 401);
          for (const [, value, server] of records.slice(1)) {
            assert.equal(value, expectedText(server!));
            if (value!.length === 27) withMicros.n++;
          }
        }
      }
      assert.ok(withMicros.n > 400, 'most values have microseconds');
      const json = await collect(async (out) =>
        exportToStream({
          rows: await source.openRows(query, new AbortController().signal),
          encoder: jsonEncoder(defaultJsonOptions),
          compression: none,
          out,
          signal: new AbortController().signal,
          limits,
        }),
      );
      for (const row of JSON.parse(json.data.toString()) as Array<{ v: string; server_text: string }>) {
        assert.equal(row.v, expectedText(row.server_text));
      }
    });
  });
}
