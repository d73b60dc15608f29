import { Type } from 'typebox';
import type { Column, Value } from '../../sources/types.ts';

// An accounting format's fields filled from a report's rows: each field takes
// a column, a constant, or the difference of two columns (debit − credit as
// one signed amount). A field left out of the mapping takes the column of its
// conventional name when the report has one (the built-in templates use them).

export const MappingSourceSchema = Type.Union(
  [
    Type.Object({ column: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
    Type.Object(
      { value: Type.Union([Type.String({ maxLength: 500 }), Type.Number()]) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        column: Type.String({ minLength: 1, maxLength: 200 }),
        minus: Type.String({
          minLength: 1,
          maxLength: 200,
          description: 'Subtracted: e.g. debit minus credit',
        }),
      },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'A column ({"column":"amount"}), a constant ({"value":"EUR"}) or a difference ({"column":"debit","minus":"credit"})',
  },
);
export type MappingSource = { column: string; minus?: string } | { value: string | number };

export const MappingSchema = Type.Record(Type.String({ maxLength: 60 }), MappingSourceSchema, {
  description: "The format's fields (GET /api/v1/formats lists them) filled from the report: field → source",
});
export type Mapping = Record<string, MappingSource>;

/** A field of an accounting format. */
export interface FieldDefinition {
  key: string;
  /** The name the format's own documentation gives it (DATEV: "Belegfeld 1"). */
  label: string;
  required: boolean;
  /** Columns that fill it when the mapping leaves it out, in order of preference. */
  defaults: readonly string[];
  description: string;
}

/** A problem with the data, naming the row (1-based, as the report returned it) and the field. */
export class AccountingDataError extends Error {
  readonly row: number | null;
  readonly field: string | null;
  constructor(message: string, where: { row?: number; field?: string } = {}) {
    const at = [
      where.row !== undefined ? `row ${where.row}` : null,
      where.field !== undefined ? `field ${where.field}` : null,
    ].filter(Boolean);
    super(at.length > 0 ? `${at.join(', ')}: ${message}` : message);
    this.name = 'AccountingDataError';
    this.row = where.row ?? null;
    this.field = where.field ?? null;
  }
}

/** Reads one field of a row. */
export type FieldReader = (row: Value[]) => Value;

/**
 * Resolves the mapping against the report's columns, once, before any row: a
 * required field nobody fills, or a mapped column the report does not have,
 * fails here with the field's name.
 */
export function compileMapping(
  fields: readonly FieldDefinition[],
  mapping: Mapping,
  columns: Column[],
): Map<string, FieldReader> {
  const known = new Set(fields.map((f) => f.key));
  const unknown = Object.keys(mapping).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new AccountingDataError(
      `the mapping names ${unknown.map((k) => `"${k}"`).join(', ')}, which the format does not have (its fields: ${fields.map((f) => f.key).join(', ')})`,
    );
  const index = new Map(columns.map((c, i) => [c.name, i]));
  const columnAt = (name: string, field: FieldDefinition) => {
    const i = index.get(name);
    if (i === undefined)
      throw new AccountingDataError(
        `the mapping reads column "${name}", which the report does not return (it returns: ${columns.map((c) => c.name).join(', ')})`,
        { field: field.label },
      );
    return i;
  };
  const readers = new Map<string, FieldReader>();
  for (const field of fields) {
    const source = mapping[field.key];
    if (source && 'value' in source) {
      const constant = source.value;
      readers.set(field.key, () => constant);
    } else if (source && source.minus !== undefined) {
      const [a, b] = [columnAt(source.column, field), columnAt(source.minus, field)];
      readers.set(field.key, (row) => subtractDecimals(row[a] ?? null, row[b] ?? null));
    } else if (source) {
      const i = columnAt(source.column, field);
      readers.set(field.key, (row) => row[i] ?? null);
    } else {
      const name = field.defaults.find((d) => index.has(d));
      if (name !== undefined) {
        const i = index.get(name)!;
        readers.set(field.key, (row) => row[i] ?? null);
      } else if (field.required)
        throw new AccountingDataError(
          `is required: map it to a column or a constant (no column named ${field.defaults.map((d) => `"${d}"`).join(' or ') || 'for it'})`,
          { field: field.label },
        );
    }
  }
  return readers;
}

/** Exact decimal text as a number of hundredths; null for an empty value. Throws for text that is not a number. */
export function toCents(value: Value): bigint | null {
  if (value === null || value === undefined || value === '') return null;
  const text = typeof value === 'number' ? numberText(value) : String(value).trim();
  const m = /^([+-]?)(\d*)(?:[.,](\d*))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`"${text}" is not an amount`);
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  if (fraction.length > 2) throw new Error(`${text} has more than two decimal places`);
  const cents = BigInt(m[2] || '0') * 100n + BigInt(fraction.padEnd(2, '0') || '0');
  return m[1] === '-' ? -cents : cents;
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  // Shortest text that reads back as the same double: 0.1 + 0.2 stays visible as too many places.
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

function subtractDecimals(a: Value, b: Value): Value {
  const x = toCents(a) ?? 0n;
  const y = toCents(b) ?? 0n;
  const d = x - y;
  const sign = d < 0n ? '-' : '';
  const abs = d < 0n ? -d : d;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** A row's amount: toCents, its error naming the row and field. */
export function centsAt(value: Value, where: { row: number; field: string }): bigint | null {
  try {
    return toCents(value);
  } catch (err) {
    throw new AccountingDataError((err as Error).message, where);
  }
}

/** A row's date: toIsoDate, its error naming the row and field. */
export function dateAt(value: Value, timeZone: string, where: { row: number; field: string }): string | null {
  try {
    return toIsoDate(value, timeZone);
  } catch (err) {
    throw new AccountingDataError((err as Error).message, where);
  }
}

/** Hundredths as "1234,56" (decimal comma, no thousands separator). */
export function centsText(cents: bigint, separator = ','): string {
  const abs = cents < 0n ? -cents : cents;
  return `${cents < 0n ? '-' : ''}${abs / 100n}${separator}${String(abs % 100n).padStart(2, '0')}`;
}

/** A calendar date from a row's value: 'YYYY-MM-DD' text, a timestamp's text, or an instant (read in `timeZone`). */
export function toIsoDate(value: Value, timeZone: string): string | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) {
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).format(value);
    return parts;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value));
  if (!m) throw new Error(`"${String(value)}" is not a date`);
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** Text of a value as a format writes it (numbers plainly, no exponent). */
export function plainText(value: Value): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return numberText(value);
  if (value instanceof Date) return value.toISOString();
  return String(value);
}
