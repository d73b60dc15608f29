import { randomUUID } from 'node:crypto';

// Builds the smallest value that satisfies a JSON schema (TypeBox output), so
// tests that walk every route can send a valid body without knowing the route.

type Schema = {
  type?: string | string[];
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  const?: unknown;
  enum?: unknown[];
  minimum?: number;
  minLength?: number;
  items?: Schema;
  default?: unknown;
};

export function sampleFromSchema(schema: unknown): unknown {
  const s = schema as Schema;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.anyOf) return sampleFromSchema(s.anyOf[0]);
  if (s.oneOf) return sampleFromSchema(s.oneOf[0]);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of s.required ?? []) out[key] = sampleFromSchema(s.properties?.[key] ?? {});
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'string':
      if (s.format === 'email') return `sample-${randomUUID().slice(0, 8)}@example.com`;
      if (s.format === 'uuid') return randomUUID();
      if (s.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      return 'x'.repeat(Math.max(s.minLength ?? 1, 8));
    default:
      return {};
  }
}
