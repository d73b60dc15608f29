import { lexMysql, MysqlLexError, type MysqlToken } from './mysql-lexer.ts';
import { checkSqlSize, refusePlaceholderInString, SqlRejected } from './sql-rejected.ts';

// MySQL/MariaDB report SQL, checked on the tokens the server itself would see
// (mysql-lexer.ts follows the server's lexer and is proven against it). Ferry
// runs the session with ANSI_QUOTES and NO_BACKSLASH_ESCAPES off, so "…" is a
// string and a backslash escapes, as the lexer assumes.

const ALLOWED_FIRST = new Set(['select', 'with', 'values', 'table']);
// Statements and clauses that write, lock or change state, as bare keywords.
const FORBIDDEN_WORDS = new Set([
  'insert',
  'update',
  'delete',
  'replace',
  'merge',
  'drop',
  'alter',
  'create',
  'rename',
  'truncate',
  'grant',
  'revoke',
  'call',
  'handler',
  'lock',
  'unlock',
  'into',
  'outfile',
  'dumpfile',
  'load',
  'infile',
]);
// Functions that act outside the query, refused whether written bare or as a `quoted` name.
const FORBIDDEN_FUNCTIONS = new Map<string, string>([
  ['load_file', 'reads a file on the database server'],
  ['sys_exec', 'runs a program on the database server'],
  ['sys_eval', 'runs a program on the database server'],
  ['sleep', 'stalls the connection'],
  ['benchmark', 'stalls the connection'],
  ['master_pos_wait', 'stalls the connection'],
  ['master_gtid_wait', 'stalls the connection'],
  ['source_pos_wait', 'stalls the connection'],
  ['wait_for_executed_gtid_set', 'stalls the connection'],
  ['get_lock', 'takes a lock that outlives the query on a pooled connection'],
  ['release_lock', 'releases a session lock'],
  ['release_all_locks', 'releases session locks'],
  ['nextval', 'changes a sequence'],
  ['setval', 'changes a sequence'],
]);

function lex(sql: string): MysqlToken[] {
  checkSqlSize(sql);
  try {
    return lexMysql(sql);
  } catch (err) {
    if (err instanceof MysqlLexError)
      throw new SqlRejected((err as Error).message, (err as MysqlLexError).position);
    throw err;
  }
}

export function mysqlPlaceholders(sql: string): Array<{ name: string; start: number; end: number }> {
  const found: Array<{ name: string; start: number; end: number }> = [];
  for (const t of lex(sql)) {
    if (t.kind === 'placeholder') {
      const name = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(t.text)![1]!;
      found.push({ name, start: t.start, end: t.end });
    } else if (t.kind === 'string') refusePlaceholderInString(t.text, t.start + 1);
  }
  return found;
}

/** Refuses anything but a single read statement. */
export function checkMysqlReadOnly(sql: string): void {
  let first: string | undefined;
  let ended = false;
  let previous = '';
  for (const t of lex(sql)) {
    if (t.kind === 'whitespace' || t.kind === 'comment') continue;
    const at = t.start + 1;
    if (t.kind === 'symbol' && t.text === ';') {
      ended = true;
      continue;
    }
    if (ended)
      throw new SqlRejected('Only one statement is allowed: remove everything after the first ";"', at);
    const name =
      t.kind === 'word' ? t.text.toLowerCase() : t.kind === 'quoted-identifier' ? (t.value ?? '') : '';
    if (!name) continue;
    const lower = name.toLowerCase();
    const reason = FORBIDDEN_FUNCTIONS.get(lower);
    if (reason) throw new SqlRejected(`Reports are read-only: ${lower}() ${reason}`, at);
    if (t.kind !== 'word') continue;
    if (first === undefined) {
      first = lower;
      if (!ALLOWED_FIRST.has(lower))
        throw new SqlRejected(
          `Reports are read-only: a query must start with SELECT or WITH, not ${lower.toUpperCase()}`,
          at,
        );
    }
    if (FORBIDDEN_WORDS.has(lower))
      throw new SqlRejected(`Reports are read-only: ${lower.toUpperCase()} is not allowed`, at);
    if (previous === 'next' && lower === 'value')
      throw new SqlRejected('Reports are read-only: NEXT VALUE FOR changes a sequence', at);
    previous = lower;
  }
  if (first === undefined) throw new SqlRejected('The query is empty');
}

/**
 * Writes each value as a literal where the server's lexer sees a `?` in code.
 * mysql2's own substitution replaces every `?` in the text, inside strings and
 * comments too, which shifts values into the wrong places; Ferry sends the
 * result with no values, so the driver substitutes nothing.
 */
export function inlineMysqlValues(sql: string, values: unknown[]): string {
  if (values.length === 0) return sql;
  let out = '';
  let at = 0;
  let next = 0;
  for (const t of lex(sql)) {
    if (t.kind !== 'symbol' || t.text !== '?') continue;
    if (next >= values.length) break;
    out += sql.slice(at, t.start) + mysqlLiteral(values[next++]);
    at = t.end;
  }
  if (next !== values.length)
    throw new SqlRejected(`The query has ${next} placeholders for ${values.length} values`);
  return out + sql.slice(at);
}

/**
 * A value as a MySQL literal, for the server's lexer with backslash escapes on
 * (Ferry's session setting) and a UTF-8 connection: a quoted string escapes
 * NUL, the quotes, backslash, CR, LF and Ctrl-Z.
 */
export function mysqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SqlRejected(`${value} cannot be sent to MySQL`);
    return String(value);
  }
  if (Buffer.isBuffer(value)) return `X'${value.toString('hex')}'`;
  if (value instanceof Date) return mysqlString(value.toISOString().replace('T', ' ').replace('Z', ''));
  return mysqlString(typeof value === 'string' ? value : JSON.stringify(value));
}

const ESCAPES: Record<string, string> = {
  '\0': '\\0',
  "'": "\\'",
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
};

function mysqlString(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the characters MySQL strings escape
  return `'${text.replace(/[\0'"\\\n\r\x1a]/g, (c) => ESCAPES[c]!)}'`;
}
