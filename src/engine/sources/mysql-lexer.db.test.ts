import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import { createMysqlDatabase, type MysqlTestDb } from '../../../test/helpers/engines.ts';
import { lexMysql, MysqlLexError, type MysqlToken } from './mysql-lexer.ts';

const shape = (sql: string) => lexMysql(sql).map((t) => `${t.kind}:${t.text}`);
const commentAt = (sql: string, start: number) => {
  try {
    return lexMysql(sql).find((t) => t.start === start)?.kind === 'comment';
  } catch {
    return false;
  }
};
const only = (sql: string) => {
  const [token, ...rest] = lexMysql(sql);
  assert.equal(rest.length, 0, `one token in ${JSON.stringify(sql)}`);
  return token!;
};
const refusal = (sql: string) => {
  try {
    lexMysql(sql);
  } catch (e) {
    if (e instanceof MysqlLexError) return e;
    throw e;
  }
  assert.fail(`lexMysql accepted ${JSON.stringify(sql)}`);
};

describe('MySQL lexer: comments', () => {
  test('"--" starts a comment before a space, any control character or the end of the text', () => {
    for (const c of [' ', '\t', '\r', '\n', '\x01', '\x0b', '\x0c', '\x1a', '\x1f', '\x7f']) {
      assert.ok(commentAt(`SELECT 1 --${c}x`, 9), JSON.stringify(c));
    }
    assert.deepEqual(shape('SELECT 1 --'), [
      'word:SELECT',
      'whitespace: ',
      'number:1',
      'whitespace: ',
      'comment:--',
    ]);
  });

  test('"--" before anything else is two minus signs: --1, ---x, --é, --NBSP', () => {
    for (const sql of ['SELECT 1 --1', 'SELECT 1 ---x', 'SELECT 1 --é', 'SELECT 1 --\u00a0x']) {
      assert.ok(!lexMysql(sql).some((t) => t.kind === 'comment'), sql);
    }
    assert.deepEqual(shape('1 --1').slice(2), ['symbol:-', 'symbol:-', 'number:1']);
  });

  test('line comments ("-- ", "#") end before \\n only, not at \\r', () => {
    assert.deepEqual(shape('#a\r, 9\n, 8'), [
      'comment:#a\r, 9',
      'whitespace:\n',
      'symbol:,',
      'whitespace: ',
      'number:8',
    ]);
    assert.deepEqual(shape('-- a\r;\n;').slice(0, 2), ['comment:-- a\r;', 'whitespace:\n']);
    assert.deepEqual(shape('a#b'), ['word:a', 'comment:#b']);
  });

  test('block comments do not nest, and "/*/" does not close itself', () => {
    assert.deepEqual(shape('/* a /* b */ c */'), [
      'comment:/* a /* b */',
      'whitespace: ',
      'word:c',
      'whitespace: ',
      'symbol:*',
      'symbol:/',
    ]);
    assert.equal(only('/*/ x */').kind, 'comment');
    assert.equal(only('/*M x */').kind, 'comment');
  });

  test('executable comments and optimizer hints are refused', () => {
    for (const sql of [
      'SELECT /*! 1 */',
      'SELECT /*!50000 1 */',
      'SELECT /*M!100000 1 */',
      'SELECT /*+ hint */ 1',
    ]) {
      const e = refusal(sql);
      assert.match(e.message, /Executable comments \(\/\*! … \*\/\) are not allowed/);
      assert.equal(e.position, 8);
      assert.equal(e.reason, 'not-allowed');
    }
  });
});

describe('MySQL lexer: strings and names', () => {
  test('\'…\' and "…" take backslash escapes and doubled quotes', () => {
    assert.equal(only("'it\\'s'").value, "it's");
    assert.equal(only("'it''s'").value, "it's");
    assert.equal(only("'a\\\\'").value, 'a\\');
    assert.equal(only(`'\\0\\b\\n\\r\\t\\Z\\x\\"\\é'`).value, '\0\b\n\r\t\x1ax"é');
    assert.equal(only("'\\%\\_'").value, '\\%\\_');
    assert.equal(only('"say ""hi"" \\"there\\""').value, 'say "hi" "there"');
    assert.equal(only(`'"'`).value, '"');
    assert.equal(only(`"''"`).value, "''");
    assert.deepEqual(shape("'a''b' 'c'"), ["string:'a''b'", 'whitespace: ', "string:'c'"]);
  });

  test('backtick names double their backticks and take no escapes', () => {
    const t = only('`a``b\\`');
    assert.equal(t.kind, 'quoted-identifier');
    assert.equal(t.value, 'a`b\\');
  });

  test("X'…', B'…', N'…' and charset introducers", () => {
    assert.deepEqual(
      lexMysql("X'41' b'100001' N'é' _utf8mb4'x'").map((t) => [t.kind, t.value]),
      [
        ['string', 'A'],
        ['whitespace', undefined],
        ['string', '!'],
        ['whitespace', undefined],
        ['string', 'é'],
        ['whitespace', undefined],
        ['word', undefined],
        ['string', 'x'],
      ],
    );
    assert.equal(refusal("SELECT X'4'").reason, 'invalid');
    assert.equal(refusal("SELECT X'4g'").reason, 'invalid');
  });

  test('numbers, names that start with digits, and the name after "name."', () => {
    assert.deepEqual(shape('1e5 1e 12ab 0x1F 0x 0b2 .5 1.5e-3 t.1e5 @a.b @@global.x \\N'), [
      ...['number:1e5', 'whitespace: ', 'word:1e', 'whitespace: ', 'word:12ab', 'whitespace: '],
      ...['number:0x1F', 'whitespace: ', 'word:0x', 'whitespace: ', 'word:0b2', 'whitespace: '],
      ...['number:.5', 'whitespace: ', 'number:1.5e-3', 'whitespace: ', 'word:t', 'symbol:.', 'word:1e5'],
      ...['whitespace: ', 'symbol:@', 'word:a.b', 'whitespace: ', 'symbol:@', 'symbol:@', 'word:global'],
      ...['symbol:.', 'word:x', 'whitespace: ', 'word:\\N'],
    ]);
    assert.equal(refusal('SELECT 1.5e-- 1').reason, 'invalid');
  });

  test('{{name}} is a placeholder in code, plain text inside strings and comments', () => {
    assert.deepEqual(shape("{{p}} {{ q }} '{{p}}' -- {{p}}"), [
      ...['placeholder:{{p}}', 'whitespace: ', 'placeholder:{{ q }}', 'whitespace: '],
      ...["string:'{{p}}'", 'whitespace: ', 'comment:-- {{p}}'],
    ]);
    assert.deepEqual(shape('{{1p}}').slice(0, 2), ['symbol:{', 'symbol:{']);
  });

  test('unterminated strings, names and comments and NUL characters are refused at their position', () => {
    const cases: Array<[string, number, string]> = [
      ["SELECT 'abc", 8, 'unterminated'],
      ["SELECT 'abc\\'", 8, 'unterminated'],
      ["SELECT 'abc\\", 8, 'unterminated'],
      ['SELECT "abc', 8, 'unterminated'],
      ['SELECT `abc', 8, 'unterminated'],
      ['SELECT 1 /* abc', 10, 'unterminated'],
      ['SELECT 1 /*', 10, 'unterminated'],
      ["SELECT 'a\0'", 10, 'not-allowed'],
      ['SELECT 1 -- \0', 13, 'not-allowed'],
    ];
    for (const [sql, position, reason] of cases) {
      const e = refusal(sql);
      assert.deepEqual([e.position, e.reason], [position, reason], JSON.stringify(sql));
      assert.match(e.message, new RegExp(`position ${position}\\)`));
    }
  });

  test('the token texts add up to the input, and 256 KB lexes in one pass', () => {
    const unit = "SELECT a.b, 'x\\'y''z', \"q\" -- c\r\n/* d */ `e``f`, 1.5e3 # g\n, @v, {{p}};\n";
    const sql = unit.repeat(Math.ceil((256 * 1024) / unit.length));
    const tokens = lexMysql(sql);
    assert.equal(tokens.map((t) => t.text).join(''), sql);
    assert.equal(tokens.length, (lexMysql(unit).length * sql.length) / unit.length);
    assert.ok(
      tokens.every((t, i) => t.start === (tokens[i - 1]?.end ?? 0) && t.end === t.start + t.text.length),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Differential tests: what the lexer predicts, MariaDB must do.

type ResultSet = unknown[][] | 'ok';
type Outcome = { error: string } | { results: ResultSet[] };
type Prediction =
  | { kind: 'refused'; error: MysqlLexError }
  | { kind: 'predicted'; results: ResultSet[] }
  | { kind: 'unpredicted'; statements: number };

const isCode = (t: MysqlToken) => t.kind !== 'whitespace' && t.kind !== 'comment';
const isPlainString = (t: MysqlToken | undefined) => t?.kind === 'string' && /^['"]/.test(t.text);

const isWord = (t: MysqlToken | undefined, word: string) =>
  t?.kind === 'word' && t.text.toUpperCase() === word;

/**
 * SELECT item (, item)* where an item is a number or adjacent strings, with an optional
 * [AS] `alias`: the one row the statement returns.
 */
function selectRow(code: MysqlToken[]): unknown[] | undefined {
  if (!isWord(code[0], 'SELECT')) return undefined;
  const row: unknown[] = [];
  let i = 1;
  for (;;) {
    const t = code[i];
    if (t?.kind === 'number' && /^\d{1,9}$/.test(t.text)) {
      row.push(Number(t.text));
      i++;
    } else if (isPlainString(t)) {
      let value = '';
      for (; isPlainString(code[i]); i++) value += code[i]!.value;
      row.push(value);
    } else return undefined;
    if (isWord(code[i], 'AS')) i++;
    // Names are utf8mb3 in MariaDB 10.x: a character beyond U+FFFF in an alias is an error.
    if (code[i]?.kind === 'quoted-identifier' && !/[\u{10000}-\u{10FFFF}]/u.test(code[i]!.value!)) i++;
    else if (isWord(code[i - 1], 'AS')) return undefined;
    if (i === code.length) return row;
    if (code[i]!.kind !== 'symbol' || code[i]!.text !== ',') return undefined;
    i++;
  }
}

function predict(sql: string): Prediction {
  let tokens: MysqlToken[];
  try {
    tokens = lexMysql(sql);
  } catch (e) {
    if (e instanceof MysqlLexError) return { kind: 'refused', error: e };
    throw e;
  }
  assert.equal(tokens.map((t) => t.text).join(''), sql, 'the token texts add up to the input');
  const statements: MysqlToken[][] = [[]];
  for (const t of tokens) {
    if (t.kind === 'symbol' && t.text === ';') statements.push([]);
    else statements.at(-1)!.push(t);
  }
  const unpredicted = { kind: 'unpredicted', statements: statements.length } as const;
  const results: ResultSet[] = [];
  for (const [i, statement] of statements.entries()) {
    const code = statement.filter(isCode);
    if (code.length === 0) {
      // The server skips whitespace after ";"; a rest of comments only is an empty statement (an OK packet).
      if (i < statements.length - 1) return unpredicted;
      if (statement.some((t) => t.kind === 'comment')) results.push('ok');
      else if (i === 0) return unpredicted;
      continue;
    }
    const row = selectRow(code);
    if (!row) return unpredicted;
    results.push([row]);
  }
  return { kind: 'predicted', results };
}

async function runOnServer(conn: mysql.Connection, sql: string): Promise<Outcome> {
  try {
    const [rows, fields] = (await conn.query(sql)) as unknown as [unknown, unknown[] | undefined];
    if (!Array.isArray(rows)) return { results: ['ok'] };
    const isSingleResultSet = fields !== undefined && fields[0] != null && !Array.isArray(fields[0]);
    if (isSingleResultSet) return { results: [rows as unknown[][]] };
    return { results: rows.map((r) => (Array.isArray(r) ? (r as unknown[][]) : 'ok')) };
  } catch (e) {
    if (e && typeof e === 'object' && 'sqlState' in e)
      return { error: String((e as { code?: unknown }).code) };
    throw e;
  }
}

/** Checks one text against the server, or throws with the details. */
async function compareWithServer(
  conn: mysql.Connection,
  sql: string,
): Promise<{ prediction: Prediction; outcome?: Outcome }> {
  const prediction = predict(sql);
  if (prediction.kind === 'refused' && prediction.error.reason === 'not-allowed') return { prediction };
  const outcome = await runOnServer(conn, sql);
  const explain = () =>
    `text ${JSON.stringify(sql)}\nlexer: ${JSON.stringify(prediction)}\nserver: ${JSON.stringify(outcome)}`;
  if (prediction.kind === 'refused') {
    assert.ok(
      'error' in outcome,
      `refused (${prediction.error.message}) but the server ran it: ${explain()}`,
    );
  } else if (prediction.kind === 'predicted') {
    assert.deepEqual(outcome, { results: prediction.results }, explain());
  } else if ('results' in outcome) {
    assert.ok(outcome.results.length <= prediction.statements, `more results than statements: ${explain()}`);
  }
  return { prediction, outcome };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOISE = [
  ...["'", '"', '`', '\\', '--', '-- ', '#', '/*', '*/', ';', ', 9', '; SELECT 7', '\r', '\n', '\t'],
  ...['\x01', '\x0b', '\x0c', '\x1a', '\x7f', 'é', '😀', ' ', 'a', '0', '%', '_', '{{p}}', "X'", '?'],
];
const ESCAPED = [
  "'",
  '"',
  '`',
  '\\',
  'n',
  't',
  'r',
  'b',
  '0',
  'Z',
  '%',
  '_',
  'x',
  'é',
  '😀',
  '\n',
  '-',
  '#',
  ';',
];
const SPACES = [' ', '  ', '\n', '\t', '\r\n', '\x0b', '\x0c', '\r'];
const DASH_STARTS = [
  ...['-- ', '--\t', '--\r', '--\x01', '--\x0b', '--\x0c', '--\x1a', '--\x1f', '--\x7f'],
  ...['#', '#\x01'],
];
const NOT_COMMENTS = ['--é', '---x', '--1'];
const REFUSED_ITEMS = ["X'4g'", "X'414'", '1.5e', '@@ x', '\\x', "'open", '/* open'];

function textGenerator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const repeat = (max: number, piece: () => string) =>
    Array.from({ length: Math.floor(random() * (max + 1)) }, piece);
  const noise = (except: readonly string[]) => {
    const piece = pick(NOISE);
    return except.some((x) => piece.includes(x)) ? 'z' : piece;
  };
  const stringPiece = (q: string) => {
    const r = random();
    if (r < 0.6) return noise(random() < 0.97 ? [q, '\\'] : []);
    if (r < 0.88) return `\\${pick(ESCAPED)}`;
    return q + q;
  };
  const string = () => {
    const q = random() < 0.7 ? "'" : '"';
    return q + repeat(5, () => stringPiece(q)).join('') + q;
  };
  const lineComment = (atEnd: boolean) => {
    if (random() < 0.05) return atEnd ? '--' : '--\n';
    const body = repeat(4, () => noise(random() < 0.97 ? ['\n'] : [])).join('');
    return pick(DASH_STARTS) + body + (atEnd && random() < 0.5 ? '' : '\n');
  };
  const blockComment = () => `/*${repeat(4, () => noise(random() < 0.98 ? ['*/'] : [])).join('')}*/`;
  const separator = (canBeEmpty: boolean): string => {
    const r = random();
    if (canBeEmpty && r < 0.3) return '';
    if (r < 0.7) return pick(SPACES);
    if (r < 0.83) return lineComment(false);
    if (r < 0.965) return blockComment();
    if (r < 0.97) return ` ${pick(NOT_COMMENTS)} `;
    return separator(false) + separator(false);
  };
  const joined = (parts: string[], glue: () => string) => parts.reduce((text, part) => text + glue() + part);
  const alias = () => {
    const body = repeat(4, () => (random() < 0.2 ? '``' : noise(random() < 0.98 ? ['`', '😀'] : ['😀'])));
    return `${separator(false)}${random() < 0.5 ? `AS${separator(false)}` : ''}\`c${body.join('')}\``;
  };
  const value = () => {
    const r = random();
    if (r < 0.005) return pick(REFUSED_ITEMS);
    if (r < 0.4) return pick(['0', '7', '42', String(Math.floor(random() * 100000))]);
    return joined([string(), ...repeat(2, string)], () => separator(true));
  };
  const item = () => value() + (random() < 0.15 ? alias() : '');
  const statement = () => {
    const items = joined([item(), ...repeat(3, item)], () => `${separator(true)},${separator(true)}`);
    return `${pick(['SELECT', 'select', 'Select'])}${separator(false)}${items}`;
  };
  const ending = () => {
    const r = random();
    if (r < 0.4) return '';
    if (r < 0.6) return ';';
    if (r < 0.8) return `;${separator(true)}`;
    return `${separator(true)}${random() < 0.5 ? lineComment(true) : blockComment()}`;
  };
  return () =>
    joined([statement(), ...repeat(2, statement)], () => `${separator(true)};${separator(true)}`) + ending();
}

describe('MySQL lexer agrees with MariaDB', () => {
  let db: MysqlTestDb;
  let conn: mysql.Connection;
  before(async () => {
    db = await createMysqlDatabase();
    conn = await mysql.createConnection({
      uri: db.url,
      multipleStatements: true,
      rowsAsArray: true,
      charset: 'utf8mb4',
    });
    await conn.query("SET SESSION sql_mode = ''");
  });
  after(async () => {
    await conn?.end();
    await db?.drop();
  });

  const CHARACTERS = [
    ...Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1)),
    ...['\u0080', '\u0085', '\u00a0', 'é', '\u2028', '\u3000', '\ufeff', '😀'],
  ];

  test('"--" followed by each character or the end: a comment exactly when the server skips it', async () => {
    for (const c of [...CHARACTERS, '']) {
      const sql = c ? `SELECT 5 --${c}, 9` : 'SELECT 5 --';
      const { outcome } = await compareWithServer(conn, sql);
      if (!commentAt(sql, 9)) {
        assert.notDeepEqual(
          outcome,
          { results: [[[5]]] },
          `the server hid ", 9" behind ${JSON.stringify(sql)}`,
        );
      }
    }
  });

  test('line and block comments end where the server ends them, for each character inside', async () => {
    for (const c of CHARACTERS) {
      for (const sql of [`SELECT 5 -- x${c}, 9`, `SELECT 5 # x${c}, 9`, `SELECT 5 /* ${c} */, 9`]) {
        assert.equal((await compareWithServer(conn, sql)).prediction.kind, 'predicted', JSON.stringify(sql));
      }
    }
  });

  test('a backslash before each character in a string decodes as the server decodes it', async () => {
    for (const c of CHARACTERS) {
      for (const sql of [`SELECT '\\${c}'`, `SELECT "\\${c}"`]) {
        assert.equal((await compareWithServer(conn, sql)).prediction.kind, 'predicted', JSON.stringify(sql));
      }
      await compareWithServer(conn, `SELECT 'a${c}b', "a${c}b"`);
    }
  });

  test('generated texts: the server returns exactly what the lexer predicts', async (t) => {
    const seed = Number(process.env['FERRY_FUZZ_SEED'] ?? 20260329);
    const count = Number(process.env['FERRY_FUZZ_COUNT'] ?? 8000);
    const generate = textGenerator(mulberry32(seed));
    const counts = { predicted: 0, refused: 0, unpredicted: 0 };
    for (let n = 0; n < count; n++) {
      const sql = generate();
      try {
        const { prediction } = await compareWithServer(conn, sql);
        counts[prediction.kind]++;
      } catch (e) {
        throw new Error(`FERRY_FUZZ_SEED=${seed}, text #${n}: ${(e as Error).message}`, { cause: e });
      }
    }
    t.diagnostic(`seed ${seed}: ${count} texts, ${JSON.stringify(counts)}`);
    assert.ok(counts.predicted >= count * 0.8, `only ${counts.predicted} of ${count} texts were predicted`);
  });
});
