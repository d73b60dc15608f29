import { type ColumnType, Instant, instantOrText, type TableInfo, type Value } from './types.ts';

// PostgreSQL type OIDs → Ferry column types and exact value parsers, shared by
// the node-postgres source.

const byOid: Record<number, { type: ColumnType; name: string }> = {
  16: { type: 'boolean', name: 'boolean' },
  17: { type: 'bytes', name: 'bytea' },
  18: { type: 'string', name: 'char' },
  19: { type: 'string', name: 'name' },
  20: { type: 'bigint', name: 'int8' },
  21: { type: 'integer', name: 'int2' },
  23: { type: 'integer', name: 'int4' },
  25: { type: 'string', name: 'text' },
  26: { type: 'integer', name: 'oid' },
  114: { type: 'json', name: 'json' },
  700: { type: 'float', name: 'float4' },
  701: { type: 'float', name: 'float8' },
  1042: { type: 'string', name: 'bpchar' },
  1043: { type: 'string', name: 'varchar' },
  1082: { type: 'date', name: 'date' },
  1083: { type: 'time', name: 'time' },
  1114: { type: 'timestamp', name: 'timestamp' },
  1184: { type: 'timestamptz', name: 'timestamptz' },
  1266: { type: 'time', name: 'timetz' },
  1700: { type: 'decimal', name: 'numeric' },
  2950: { type: 'uuid', name: 'uuid' },
  3802: { type: 'json', name: 'jsonb' },
};

export function pgColumnType(oid: number): { type: ColumnType; name: string } {
  return byOid[oid] ?? { type: 'string', name: `oid:${oid}` };
}

function parseBytea(text: string): Buffer {
  return text.startsWith('\\x') ? Buffer.from(text.slice(2), 'hex') : Buffer.from(text, 'latin1');
}

/** The digits text[start, start + length) as a number, or -1 if any is not a digit. */
function digitsAt(text: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** The general reading of a timestamptz's text: any offset, BC, infinity. */
export function parseInstantSlowly(text: string): Date | string {
  return instantOrText(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'), text);
}

/**
 * A timestamptz's text as PostgreSQL writes it in a UTC session,
 * `YYYY-MM-DD HH:MM:SS[.f{1,6}]+00`, read with Date.UTC from its digits (about 6×
 * faster than two regular expressions and Date's string parser, once per instant
 * per row). Microseconds are kept (an Instant) when there are any. Any other
 * text (other offsets, BC, infinity, years before 100) goes the general way.
 */
export function parseInstant(text: string): Date | string {
  const n = text.length;
  if (
    n >= 22 &&
    n <= 29 &&
    text.charCodeAt(n - 3) === 43 && // +
    text.charCodeAt(n - 2) === 48 &&
    text.charCodeAt(n - 1) === 48 &&
    text.charCodeAt(4) === 45 && // -
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 32 &&
    text.charCodeAt(13) === 58 && // :
    text.charCodeAt(16) === 58 &&
    (n === 22 || (n >= 24 && text.charCodeAt(19) === 46)) // .
  ) {
    const year = digitsAt(text, 0, 4);
    const month = digitsAt(text, 5, 2);
    const day = digitsAt(text, 8, 2);
    const hour = digitsAt(text, 11, 2);
    const minute = digitsAt(text, 14, 2);
    const second = digitsAt(text, 17, 2);
    const fraction = n === 22 ? 0 : digitsAt(text, 20, n - 23);
    if (
      year >= 100 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= 31 &&
      hour >= 0 &&
      hour <= 23 &&
      minute >= 0 &&
      minute <= 59 &&
      second >= 0 &&
      second <= 59 &&
      fraction >= 0
    ) {
      const fractionDigits = n === 22 ? 0 : n - 23;
      const milli =
        fractionDigits >= 3 ? digitsAt(text, 20, 3) : fractionDigits === 2 ? fraction * 10 : fraction * 100;
      const ms = Date.UTC(year, month - 1, day, hour, minute, second, milli);
      if (fractionDigits <= 3) return new Date(ms);
      // Digits 4–6: the microseconds a Date cannot hold.
      const extra = digitsAt(text, 23, fractionDigits - 3);
      const micros = fractionDigits === 4 ? extra * 100 : fractionDigits === 5 ? extra * 10 : extra;
      return micros > 0 ? new Instant(ms, micros) : new Date(ms);
    }
  }
  return parseInstantSlowly(text);
}

const identity = (text: string) => text;

/** The parser of a type's text, chosen once per column rather than per value. */
function parserFor(oid: number): (text: string) => Value {
  switch (pgColumnType(oid).type) {
    case 'boolean':
      return (text) => text === 't';
    case 'integer':
    case 'float':
      return Number;
    case 'bigint':
      return BigInt;
    case 'json':
      return (text) => JSON.parse(text) as object;
    case 'bytes':
      return parseBytea;
    case 'timestamp':
      return (text) => text.replace(' ', 'T');
    case 'timestamptz':
      return parseInstant;
    default:
      return identity;
  }
}

/** Text-format value → exact JS value, by type OID. */
export function parsePgText(oid: number, text: string): Value {
  return parserFor(oid)(text);
}

/** Parser table for drivers that accept per-OID parsers (node-postgres `types`). */
export const pgParsers: Record<number, (text: string) => Value> = Object.fromEntries(
  Object.keys(byOid).map((oid) => [Number(oid), parserFor(Number(oid))]),
);

/** Tables and views the current role may read, with their columns; `$1` limits the schemas (null: all but the system ones). */
export const CATALOG_SQL = `SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind, a.attname AS column,
       format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable, a.atttypid::int AS oid
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND ($1::text[] IS NULL OR n.nspname = ANY($1::text[]))
   AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY n.nspname, c.relname, a.attnum`;

export interface CatalogRow {
  schema: string;
  table: string;
  kind: string;
  column: string;
  type: string;
  nullable: boolean;
  oid: number;
}

export function tablesFromCatalog(rows: CatalogRow[]): TableInfo[] {
  const tables = new Map<string, TableInfo>();
  for (const row of rows) {
    const key = `${row.schema}.${row.table}`;
    let t = tables.get(key);
    if (!t) {
      t = {
        schema: row.schema,
        name: row.table,
        kind: row.kind === 'v' || row.kind === 'm' ? 'view' : 'table',
        columns: [],
      };
      tables.set(key, t);
    }
    t.columns.push({
      name: row.column,
      type: pgColumnType(row.oid).type,
      dbType: row.type,
      nullable: row.nullable,
    });
  }
  return [...tables.values()];
}
