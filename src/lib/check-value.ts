import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Invalid } from './errors.ts';

// Checks a value against a TypeBox schema in a service (where the route could not,
// because the schema depends on another field, such as a destination's type) and
// says what is wrong the way the API's validation errors do: one message per field.

type Validator = ReturnType<typeof Compile>;
const compiled = new WeakMap<TSchema, Validator>();

/** Throws Invalid naming each field at fault, under `prefix` ("settings.url"). */
export function checkValue(schema: TSchema, value: unknown, prefix: string): void {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  if (validator.Check(value)) return;
  const seen = new Map<string, string>();
  for (const e of validator.Errors(value)) {
    const segments = e.instancePath.split('/').filter(Boolean);
    let message = e.message;
    if (e.keyword === 'required') {
      for (const name of (e.params as { requiredProperties?: string[] }).requiredProperties ?? [])
        if (!seen.has([prefix, ...segments, name].join('.')))
          seen.set([prefix, ...segments, name].join('.'), 'is required');
      continue;
    }
    if (e.keyword === 'additionalProperties') {
      for (const name of (e.params as { additionalProperties?: string[] }).additionalProperties ?? [])
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
