// A small SQL lexer: enough to tell code from string literals, quoted identifiers
// and comments, so that checks and parameter substitution never look inside
// quotes. It does not parse SQL; the database does that, inside a read-only
// transaction, which is what actually keeps user SQL from writing.

export type Dialect = 'postgres' | 'mysql' | 'sqlite';

interface Segment {
  kind: 'code' | 'string' | 'identifier' | 'comment';
  text: string;
  start: number;
}

export class SqlRejected extends Error {
  readonly position: number | undefined;
  constructor(message: string, position?: number) {
    super(message);
    this.name = 'SqlRejected';
    this.position = position;
  }
}

function closeQuote(sql: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  throw new SqlRejected(
    `Unterminated ${quote === "'" ? 'string literal' : 'quoted name'} starting at position ${from + 1}`,
    from + 1,
  );
}

export function lexSql(sql: string, dialect: Dialect): Segment[] {
  const segments: Segment[] = [];
  let code = '';
  let codeStart = 0;
  const flush = (at: number) => {
    if (code) segments.push({ kind: 'code', text: code, start: codeStart });
    code = '';
    codeStart = at;
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    let end = -1;
    let kind: Segment['kind'] | undefined;
    if (ch === "'") {
      const escapes =
        dialect === 'mysql' ||
        (dialect === 'postgres' && /[eE]$/.test(code) && !/[\p{L}\p{N}_$][eE]$/u.test(code));
      end = closeQuote(sql, i, "'", escapes);
      kind = 'string';
    } else if (ch === '"') {
      end = closeQuote(sql, i, '"', dialect === 'mysql');
      kind = dialect === 'mysql' ? 'string' : 'identifier';
    } else if (ch === '`' && dialect !== 'postgres') {
      end = closeQuote(sql, i, '`', false);
      kind = 'identifier';
    } else if (ch === '-' && next === '-' && (dialect !== 'mysql' || /[\s]/.test(sql[i + 2] ?? ' '))) {
      // MySQL reads "--" as a comment only when whitespace follows ("--1" is minus minus one).
      const nl = sql.indexOf('\n', i);
      end = nl === -1 ? sql.length : nl + 1;
      kind = 'comment';
    } else if (ch === '#' && dialect === 'mysql') {
      const nl = sql.indexOf('\n', i);
      end = nl === -1 ? sql.length : nl + 1;
      kind = 'comment';
    } else if (ch === '/' && next === '*') {
      if (dialect === 'mysql' && /^\/\*[!+M]/.test(sql.slice(i, i + 3))) {
        // MySQL runs the text of /*! … */ (and MariaDB /*M! … */) as SQL: not a comment at all.
        throw new SqlRejected(`Executable comments (/*! … */) are not allowed (position ${i + 1})`, i + 1);
      }
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else if (dialect === 'postgres' && sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else j++;
      }
      if (depth > 0) throw new SqlRejected(`Unterminated comment starting at position ${i + 1}`, i + 1);
      end = j;
      kind = 'comment';
    } else if (ch === '$' && dialect === 'postgres') {
      // PostgreSQL's lexer: a tag starts with a letter, "_" or any non-ASCII character
      // and goes on with those, digits too; a "$" right after an identifier
      // character belongs to the identifier (a$1, €$1).
      const tag = /^\$([A-Za-z_\u0080-\uFFFF][A-Za-z0-9_\u0080-\uFFFF]*)?\$/.exec(sql.slice(i));
      if (tag && !/[A-Za-z0-9_$\u0080-\uFFFF]$/.test(code)) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close === -1)
          throw new SqlRejected(`Unterminated dollar-quoted string starting at position ${i + 1}`, i + 1);
        end = close + tag[0].length;
        kind = 'string';
      }
    }
    if (kind !== undefined) {
      flush(end);
      segments.push({ kind, text: sql.slice(i, end), start: i });
      codeStart = end;
      i = end;
      continue;
    }
    if (!code) codeStart = i;
    code += ch;
    i++;
  }
  flush(sql.length);
  return segments;
}

const ALLOWED_FIRST = new Set(['select', 'with', 'values', 'table']);
// Words that only appear in statements that write or change state. The
// read-only transaction refuses these anyway; finding them first gives a clear message.
const FORBIDDEN = new Set([
  'insert',
  'update',
  'delete',
  'merge',
  'upsert',
  'drop',
  'alter',
  'create',
  'truncate',
  'grant',
  'revoke',
  'copy',
  'call',
  'vacuum',
  'attach',
  'detach',
  'pragma',
  'into',
  'reindex',
  'cluster',
  'refresh',
  'notify',
  // Functions that act outside the query: files, session state, notifications, stalling the connection.
  'outfile',
  'dumpfile',
  'load_file',
  'load_extension',
  'set_config',
  'pg_notify',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'sleep',
  'benchmark',
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'dblink',
  'lo_export',
  'lo_import',
  'pg_read_file',
  'pg_read_binary_file',
  // Functions that run SQL given as text, which the checks above cannot see.
  'query_to_xml',
  'query_to_xml_and_xmlschema',
  'query_to_xmlschema',
]);

/** Refuses anything but a single read statement (SELECT, WITH … SELECT, VALUES, TABLE). */
export function checkReadOnlySql(sql: string, dialect: Dialect): void {
  const segments = lexSql(sql, dialect);
  const code = segments.filter((s) => s.kind === 'code');
  const words: Array<{ word: string; at: number }> = [];
  let sawEnd = false;
  for (const seg of code) {
    const re = /[\p{L}_][\p{L}\p{N}_$]*|;/gu;
    for (let m = re.exec(seg.text); m; m = re.exec(seg.text)) {
      if (m[0] === ';') {
        sawEnd = true;
        continue;
      }
      if (sawEnd)
        throw new SqlRejected(
          'Only one statement is allowed: remove everything after the first ";"',
          seg.start + m.index + 1,
        );
      words.push({ word: m[0].toLowerCase(), at: seg.start + m.index + 1 });
    }
  }
  const first = words[0];
  if (!first) throw new SqlRejected('The query is empty');
  if (!ALLOWED_FIRST.has(first.word)) {
    throw new SqlRejected(
      `Reports are read-only: a query must start with SELECT or WITH, not ${first.word.toUpperCase()}`,
      first.at,
    );
  }
  const bad = words.find((w) => FORBIDDEN.has(w.word));
  if (bad) throw new SqlRejected(`Reports are read-only: ${bad.word.toUpperCase()} is not allowed`, bad.at);
}

const PARAM = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The distinct {{parameter}} names used in the query's code (not inside quotes or comments). */
export function parameterNames(sql: string, dialect: Dialect): string[] {
  const names = new Set<string>();
  for (const seg of lexSql(sql, dialect)) {
    if (seg.kind === 'code') for (const m of seg.text.matchAll(PARAM)) names.add(m[1]!);
    if (seg.kind === 'string' && /\{\{\s*[A-Za-z_]/.test(seg.text)) {
      const name = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(seg.text)?.[1];
      throw new SqlRejected(
        `{{${name}}} is inside quotes at position ${seg.start + 1}: remove the quotes, the value is bound as a parameter`,
        seg.start + 1,
      );
    }
  }
  return [...names];
}

/**
 * Replaces each {{name}} with the engine's placeholder and returns the values in
 * order. A list value becomes one placeholder per item (for `IN ({{ids}})`), an
 * empty list becomes NULL so `IN (NULL)` matches nothing. Values are never
 * written into the SQL text.
 */
export function bindParameters(
  sql: string,
  dialect: Dialect,
  values: Record<string, unknown>,
): { sql: string; values: unknown[]; originalPosition: (position: number) => number } {
  parameterNames(sql, dialect);
  const out: unknown[] = [];
  const pgIndex = new Map<string, string>();
  const placeholder = (name: string, value: unknown): string => {
    if (dialect === 'postgres' && !Array.isArray(value)) {
      const known = pgIndex.get(name);
      if (known) return known;
      out.push(value);
      const p = `$${out.length}`;
      pgIndex.set(name, p);
      return p;
    }
    if (Array.isArray(value)) {
      if (value.length === 0) return 'NULL';
      return value
        .map((v) => {
          out.push(v);
          return dialect === 'postgres' ? `$${out.length}` : '?';
        })
        .join(', ');
    }
    out.push(value);
    return '?';
  };
  // Where each replacement sits, to map a database error position back to the text the user wrote.
  const shifts: Array<{ compiledEnd: number; delta: number }> = [];
  let compiled = '';
  for (const seg of lexSql(sql, dialect)) {
    if (seg.kind !== 'code') {
      compiled += seg.text;
      continue;
    }
    let last = 0;
    for (const m of seg.text.matchAll(PARAM)) {
      const name = m[1]!;
      if (!(name in values))
        throw new SqlRejected(`No value for parameter {{${name}}}`, seg.start + m.index + 1);
      compiled += seg.text.slice(last, m.index);
      const replacement = placeholder(name, values[name]);
      compiled += replacement;
      shifts.push({ compiledEnd: compiled.length, delta: m[0].length - replacement.length });
      last = m.index + m[0].length;
    }
    compiled += seg.text.slice(last);
  }
  const originalPosition = (position: number) => {
    let delta = 0;
    for (const s of shifts) if (s.compiledEnd < position) delta += s.delta;
    return position + delta;
  };
  return { sql: compiled, values: out, originalPosition };
}

/** Drops trailing semicolons and whitespace, so the query can be embedded (cursor, subquery). */
export function stripTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}

/** Quotes an identifier for the dialect (after it was checked against the schema). */
export function quoteIdentifier(name: string, dialect: Dialect): string {
  return dialect === 'mysql' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}
