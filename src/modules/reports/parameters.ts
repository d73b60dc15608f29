import type { Dialect } from '../../engine/sources/sql-text.ts';
import { type FieldError, Invalid } from '../../lib/errors.ts';
import {
  type EvaluationContext,
  isRelativeDate,
  relativeDates,
  relativeToDate,
  relativeToInstant,
} from './relative-dates.ts';

// Typed report parameters: declarations checked when a report is saved, values
// checked and converted when it runs. Values are always bound by the driver.

export const parameterTypes = ['string', 'number', 'integer', 'boolean', 'date', 'datetime', 'list'] as const;
export type ParameterType = (typeof parameterTypes)[number];
export const listItemTypes = ['string', 'number', 'integer', 'date'] as const;
export type ListItemType = (typeof listItemTypes)[number];

export interface ParameterDefinition {
  name: string;
  type: ParameterType;
  /** For type "list": the type of each item. */
  items?: ListItemType | undefined;
  default?: unknown;
  required?: boolean | undefined;
  label?: string | undefined;
  description?: string | undefined;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function isRealDate(text: string): boolean {
  return DATE.test(text) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
}

type Converted = string | number | boolean | null | Array<string | number>;

/** Checks one value against a type; returns a message for the user or the converted value. */
function convertScalar(
  type: Exclude<ParameterType, 'list'>,
  value: unknown,
  ctx: EvaluationContext,
): { ok: true; value: string | number | boolean } | { ok: false; message: string } {
  switch (type) {
    case 'string':
      return typeof value === 'string' ? { ok: true, value } : { ok: false, message: 'must be a string' };
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      return typeof n === 'number' && Number.isFinite(n)
        ? { ok: true, value: n }
        : { ok: false, message: 'must be a number' };
    }
    case 'integer': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      return typeof n === 'number' && Number.isSafeInteger(n)
        ? { ok: true, value: n }
        : { ok: false, message: 'must be a whole number' };
    }
    case 'boolean':
      return typeof value === 'boolean'
        ? { ok: true, value }
        : { ok: false, message: 'must be true or false' };
    case 'date':
      if (isRelativeDate(value)) return { ok: true, value: relativeToDate(value, ctx) };
      return typeof value === 'string' && isRealDate(value)
        ? { ok: true, value }
        : { ok: false, message: `must be a date YYYY-MM-DD or one of ${relativeDates.join(', ')}` };
    case 'datetime':
      if (isRelativeDate(value)) return { ok: true, value: relativeToInstant(value, ctx).toISOString() };
      if (typeof value === 'string' && DATETIME.test(value) && !Number.isNaN(Date.parse(value)))
        return { ok: true, value: new Date(value).toISOString() };
      return {
        ok: false,
        message: `must be an ISO-8601 date-time with a zone (e.g. 2026-01-31T23:00:00Z) or one of ${relativeDates.join(', ')}`,
      };
  }
}

function convert(
  def: ParameterDefinition,
  value: unknown,
  ctx: EvaluationContext,
): { ok: true; value: Converted } | { ok: false; message: string } {
  if (def.type !== 'list') return convertScalar(def.type, value, ctx);
  if (!Array.isArray(value))
    return { ok: false, message: `must be a list of ${def.items ?? 'string'} values` };
  const out: Array<string | number> = [];
  for (const [i, item] of value.entries()) {
    const c = convertScalar(def.items ?? 'string', item, ctx);
    if (!c.ok) return { ok: false, message: `item ${i + 1} ${c.message}` };
    out.push(c.value as string | number);
  }
  return { ok: true, value: out };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const previewContext: EvaluationContext = { now: new Date(), timeZone: 'UTC', lastSuccessfulRunAt: null };

/** Checks declarations when a report is saved: names, types, defaults, and that the SQL uses only declared names. */
export function validateDefinitions(
  defs: ParameterDefinition[],
  usedNames: string[],
  path = 'parameters',
): void {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  defs.forEach((d, i) => {
    const at = `${path}.${i}`;
    if (!NAME.test(d.name))
      errors.push({
        path: `${at}.name`,
        message: 'must start with a letter or _ and contain only letters, digits and _',
      });
    if (seen.has(d.name)) errors.push({ path: `${at}.name`, message: `"${d.name}" is declared twice` });
    seen.add(d.name);
    if (d.type === 'list' && d.items === undefined)
      errors.push({
        path: `${at}.items`,
        message: 'is required for a list (string, number, integer or date)',
      });
    if (d.type !== 'list' && d.items !== undefined)
      errors.push({ path: `${at}.items`, message: 'only applies to type list' });
    if (d.default !== undefined && d.default !== null) {
      const c = convert(d, d.default, previewContext);
      if (!c.ok) errors.push({ path: `${at}.default`, message: c.message });
    }
  });
  for (const name of usedNames) {
    if (!seen.has(name))
      errors.push({ path: 'sql', message: `uses {{${name}}}, which is not declared in parameters` });
  }
  if (errors.length > 0) throw new Invalid(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
}

/**
 * Resolves the values for a run or preview: given values, else defaults (with
 * relative dates evaluated in the context's zone). Unknown names, missing
 * required values and wrong types are refused, each naming its parameter.
 */
export function resolveValues(
  defs: ParameterDefinition[],
  given: Record<string, unknown>,
  ctx: EvaluationContext,
  path = 'parameters',
): Record<string, Converted> {
  const errors: FieldError[] = [];
  const byName = new Map(defs.map((d) => [d.name, d]));
  for (const name of Object.keys(given)) {
    if (!byName.has(name))
      errors.push({ path: `${path}.${name}`, message: 'is not a parameter of this report' });
  }
  const out: Record<string, Converted> = {};
  for (const d of defs) {
    const raw = given[d.name] !== undefined ? given[d.name] : d.default;
    if (raw === undefined || raw === null) {
      if (d.required !== false) errors.push({ path: `${path}.${d.name}`, message: 'is required' });
      out[d.name] = null;
      continue;
    }
    const c = convert(d, raw, ctx);
    if (c.ok) out[d.name] = c.value;
    else errors.push({ path: `${path}.${d.name}`, message: c.message });
  }
  if (errors.length > 0) throw new Invalid(errors.map((e) => `${e.path} ${e.message}`).join('; '), errors);
  return out;
}

/** Shapes converted values for a driver: SQLite has no booleans; MySQL datetimes have no zone suffix. */
export function valuesForDialect(
  values: Record<string, Converted>,
  defs: ParameterDefinition[],
  dialect: Dialect,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const types = new Map(defs.map((d) => [d.name, d.type]));
  for (const [name, v] of Object.entries(values)) {
    if (dialect === 'sqlite' && typeof v === 'boolean') out[name] = v ? 1 : 0;
    else if (dialect === 'mysql' && types.get(name) === 'datetime' && typeof v === 'string')
      out[name] = v.replace('T', ' ').replace('Z', '');
    else out[name] = v;
  }
  return out;
}

/** PostgreSQL's type for each declared type: the cast a bound value is sent with. */
const PG_TYPES: Record<Exclude<ParameterType, 'list'>, string> = {
  string: 'text',
  number: 'numeric',
  integer: 'bigint',
  boolean: 'boolean',
  date: 'date',
  datetime: 'timestamptz',
};

/** The SQL type each declared parameter is bound as on PostgreSQL (a list: the type of its items). */
export function pgParameterTypes(defs: ParameterDefinition[]): Record<string, string> {
  return Object.fromEntries(
    defs.map((d) => [d.name, PG_TYPES[d.type === 'list' ? (d.items ?? 'string') : d.type]]),
  );
}
