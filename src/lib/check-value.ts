import type { TSchema } from 'typebox';
import { Invalid } from './errors.ts';
import { schemaCheck } from './schema-check.ts';

// Checks a value against a TypeBox schema in a service (where the route could not,
// because the schema depends on another field, such as a destination's type) and
// says what is wrong the way the API's validation errors do: one message per field.

/** Throws Invalid naming each field at fault, under `prefix` ("settings.url"). */
export function checkValue(schema: TSchema, value: unknown, prefix: string): void {
  const check = schemaCheck(schema);
  if (check.check(value)) return;
  const seen = new Map<string, string>();
  for (const e of check.errors(value)) {
    const segments = e.instancePath.split('/').filter(Boolean);
    let message = e.message ?? 'is not valid';
    if (e.keyword === 'required') {
      const path = [prefix, ...segments, (e.params as { missingProperty: string }).missingProperty].join('.');
      if (!seen.has(path)) seen.set(path, 'is required');
      continue;
    }
    if (e.keyword === 'additionalProperties') {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      seen.set([prefix, ...segments, name].join('.'), 'is not a known field');
      continue;
    }
    if (e.keyword === 'enum')
      message = `must be one of ${((e.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}`;
    const path = [prefix, ...segments].join('.');
    if (!seen.has(path)) seen.set(path, message);
  }
  const errors = [...seen].map(([path, message]) => ({ path, message }));
  const first = errors[0] ?? { path: prefix, message: 'is not valid' };
  throw new Invalid(`${first.path}: ${first.message}`, errors);
}
