import { type Column, type ColumnType, microsOf, type Value } from '../sources/types.ts';

// The one set of rules every text format follows, so a value looks the same in
// CSV, JSON and XML: exact decimals and big integers as their digits, instants as
// ISO-8601 UTC, local dates and times as written, bytes as \x hex.

export function textOf(value: Value, type: ColumnType): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return instantText(value);
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  return type === 'json' || typeof value === 'object' ? JSON.stringify(value, jsonReplacer) : String(value);
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * An instant's text: Date.toISOString()'s form (`YYYY-MM-DDTHH:MM:SS.mmmZ`), with
 * three more digits when the source held microseconds (`.mmmuuuZ`), computed in JavaScript
 * from the epoch milliseconds: about 3× faster than the built-in (160 against 440
 * ns measured), which matters at one call per instant per row. Days to a civil
 * date by the proleptic Gregorian "days from civil" inverse. Years outside
 * 1–9999 are left to the built-in (its six-digit form).
 */
export function instantText(d: Date): string {
  const ms = d.getTime();
  if (!(ms >= MIN_FOUR_DIGIT_YEAR && ms <= MAX_FOUR_DIGIT_YEAR)) return d.toISOString();
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  const micros = microsOf(d);
  return `${year < 1000 ? String(year).padStart(4, '0') : year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${pad3(milli)}${micros > 0 ? pad3(micros) : ''}Z`;
}
/** 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
const MIN_FOUR_DIGIT_YEAR = -62_135_596_800_000;
const MAX_FOUR_DIGIT_YEAR = 253_402_300_799_999;

export function jsonReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Column types whose text is free-form: only these need formula-injection protection. */
export function isTextual(type: ColumnType): boolean {
  return type === 'string' || type === 'unknown' || type === 'json' || type === 'uuid';
}

// OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets.
const FORMULA_START = /^[=+\-@\t\r\n]/;

export function neutraliseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export interface Batchable {
  columns: Column[];
  batches: AsyncIterable<Value[][]>;
}
