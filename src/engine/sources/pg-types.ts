import { type ColumnType, instantOrText, type TableInfo, type Value } from './types.ts';

// PostgreSQL type OIDs → Ferry column types and exact value parsers, shared by
// the node-postgres source and the PGlite demo source.

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

/** Text-format value → exact JS value, by type OID. */
export function parsePgText(oid: number, text: string): Value {
  switch (pgColumnType(oid).type) {
    case 'boolean':
      return text === 't';
    case 'integer':
      return Number(text);
    case 'bigint':
      return BigInt(text);
    case 'float':
      return Number(text);
    case 'json':
      return JSON.parse(text) as object;
    case 'bytes':
      return parseBytea(text);
    case 'timestamp':
      return text.replace(' ', 'T');
    case 'timestamptz':
      return instantOrText(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'), text);
    default:
      return text;
  }
}

/** Parser table for drivers that accept per-OID parsers (node-postgres `types`, PGlite `parsers`). */
export const pgParsers: Record<number, (text: string) => Value> = Object.fromEntries(
  Object.keys(byOid).map((oid) => [Number(oid), (text: string) => parsePgText(Number(oid), text)]),
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
