import type { ColumnType, Value } from './types.ts';

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
      return new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
    default:
      return text;
  }
}

/** Parser table for drivers that accept per-OID parsers (node-postgres `types`, PGlite `parsers`). */
export const pgParsers: Record<number, (text: string) => Value> = Object.fromEntries(
  Object.keys(byOid).map((oid) => [Number(oid), (text: string) => parsePgText(Number(oid), text)]),
);
