// What Ferry checks in report SQL before it reaches a database, per engine, and
// how {{parameters}} become the engine's own placeholders. Each engine's rules
// for quotes and comments are its own: PostgreSQL's parser and scanner
// (pg-query-check.ts), MariaDB's lexer rules (mysql-lexer.ts, proven against the
// server), SQLite's (sqlite-lexer.ts). The database still runs every query in a
// read-only transaction, as a user that should only be able to read.

import { checkMysqlReadOnly, mysqlPlaceholders } from './mysql-check.ts';
import { findPgPlaceholders, parsePgReadQuery } from './pg-query-check.ts';
import { SqlRejected } from './sql-rejected.ts';
import { checkSqliteReadOnly, sqlitePlaceholders } from './sqlite-lexer.ts';

export { MAX_SQL_BYTES, SqlRejected } from './sql-rejected.ts';

export type Dialect = 'postgres' | 'mysql' | 'sqlite';

export interface Placeholder {
  name: string;
  /** UTF-16 indexes of "{{" and of the character after "}}". */
  start: number;
  end: number;
}

/** The {{name}} placeholders in code (not inside quotes or comments), in order. */
export async function findPlaceholders(sql: string, dialect: Dialect): Promise<Placeholder[]> {
  switch (dialect) {
    case 'postgres':
      return findPgPlaceholders(sql);
    case 'mysql':
      return mysqlPlaceholders(sql);
    case 'sqlite':
      return sqlitePlaceholders(sql);
  }
}

/**
 * Refuses anything but a single read statement. Takes report text with
 * {{placeholders}} (each checked as a bound parameter) or bound SQL, and
 * returns the distinct parameter names it uses (found once, for both).
 */
export async function checkReadOnlySql(sql: string, dialect: Dialect): Promise<string[]> {
  const placeholders = await findPlaceholders(sql, dialect);
  switch (dialect) {
    case 'postgres': {
      const shown = placeholders.length > 0 ? replacePlaceholders(sql, placeholders, () => '$1') : null;
      try {
        await parsePgReadQuery(shown?.sql ?? sql);
      } catch (err) {
        if (err instanceof SqlRejected && shown && err.position !== undefined) {
          const position = shown.originalPosition(err.position);
          throw new SqlRejected(err.message.replace(/at position \d+/, `at position ${position}`), position);
        }
        throw err;
      }
      break;
    }
    case 'mysql':
      checkMysqlReadOnly(sql);
      break;
    case 'sqlite':
      checkSqliteReadOnly(sql);
      break;
  }
  return [...new Set(placeholders.map((p) => p.name))];
}

function replacePlaceholders(
  sql: string,
  placeholders: Placeholder[],
  replacement: (p: Placeholder) => string,
): { sql: string; originalPosition: (position: number) => number } {
  // Where each replacement sits, to map a database error position back to the text the user wrote.
  const shifts: Array<{ compiledEnd: number; delta: number }> = [];
  let compiled = '';
  let at = 0;
  for (const p of placeholders) {
    compiled += sql.slice(at, p.start);
    const text = replacement(p);
    compiled += text;
    shifts.push({ compiledEnd: compiled.length, delta: p.end - p.start - text.length });
    at = p.end;
  }
  compiled += sql.slice(at);
  const originalPosition = (position: number) => {
    let delta = 0;
    for (const s of shifts) if (s.compiledEnd < position) delta += s.delta;
    return position + delta;
  };
  return { sql: compiled, originalPosition };
}

/**
 * Replaces each {{name}} with the engine's placeholder and returns the values in
 * order. A list value becomes one placeholder per item (for `IN ({{ids}})`), an
 * empty list becomes NULL so `IN (NULL)` matches nothing. On PostgreSQL and
 * SQLite values are bound by the driver, never written into the text; on MySQL
 * the source writes them as literals where its lexer finds each `?`
 * (mysql-check.ts), since the driver's own substitution ignores quotes.
 */
export async function bindParameters(
  sql: string,
  dialect: Dialect,
  values: Record<string, unknown>,
  /** PostgreSQL: the SQL type each declared parameter (or list item) is cast to, by name. */
  pgTypes: Record<string, string> = {},
): Promise<{
  sql: string;
  values: unknown[];
  /** The parameter name of each bound value, in order ($1 is names[0]). */
  names: string[];
  originalPosition: (position: number) => number;
}> {
  const placeholders = await findPlaceholders(sql, dialect);
  for (const p of placeholders)
    if (!(p.name in values)) throw new SqlRejected(`No value for parameter {{${p.name}}}`, p.start + 1);
  const out: unknown[] = [];
  const names: string[] = [];
  const pgIndex = new Map<string, string>();
  const one = (name: string, v: unknown): string => {
    out.push(v);
    names.push(name);
    if (dialect !== 'postgres') return '?';
    // A declared type is sent with the value, so a parameter used twice, or where
    // PostgreSQL cannot deduce a type, is the type the report declares.
    const type = pgTypes[name];
    return type ? `CAST($${out.length} AS ${type})` : `$${out.length}`;
  };
  const placeholder = ({ name }: Placeholder): string => {
    const value = values[name];
    if (Array.isArray(value)) return value.length === 0 ? 'NULL' : value.map((v) => one(name, v)).join(', ');
    if (dialect !== 'postgres') return one(name, value);
    // PostgreSQL: one $n per name, however often it is used.
    let p = pgIndex.get(name);
    if (!p) {
      p = one(name, value);
      pgIndex.set(name, p);
    }
    return p;
  };
  const bound = replacePlaceholders(sql, placeholders, placeholder);
  return { sql: bound.sql, values: out, names, originalPosition: bound.originalPosition };
}

/** A database message with `$3` written as the `{{name}}` the user wrote. */
export function nameParameters(message: string, names: string[]): string {
  return message.replace(/\$(\d+)\b/g, (whole, n: string) => {
    const name = names[Number(n) - 1];
    return name ? `{{${name}}}` : whole;
  });
}

/** Drops trailing semicolons and whitespace, so the query can be embedded (cursor, subquery). */
export function stripTrailingSemicolons(sql: string): string {
  let end = sql.length;
  while (end > 0 && /[\s;]/.test(sql[end - 1]!)) end--;
  return sql.slice(0, end);
}

/** Quotes an identifier for the dialect (after it was checked against the schema). */
export function quoteIdentifier(name: string, dialect: Dialect): string {
  return dialect === 'mysql' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}
