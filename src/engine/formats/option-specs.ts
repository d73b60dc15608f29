import type { TSchema } from 'typebox';
import { commonOptions, formatOptionSchemas } from './options.ts';
import type { ExportFormat } from './registry.ts';

// Each format's options as forms and GET /api/v1/formats describe them, read
// from the same schemas that validate them.

/** One option of a format, as forms and GET /api/v1/formats describe it. */
export interface FormatOptionSpec {
  name: string;
  /** json: a structured option (an accounting mapping, a field list) edited as JSON. */
  type: 'string' | 'boolean' | 'integer' | 'enum' | 'json';
  /** enum: the values allowed. */
  values?: readonly string[];
  /** The value used when the option is left out (absent: depends on the export, e.g. the report's name). */
  default?: string | number | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  description: string;
}

interface Keywords {
  type?: string;
  enum?: string[];
  default?: string | number | boolean | unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  description: string;
  deprecated?: boolean;
}

function specOf(name: string, schema: TSchema): FormatOptionSpec {
  const s = schema as Keywords;
  const values = s.enum;
  const type = values
    ? 'enum'
    : s.type === 'boolean' || s.type === 'integer'
      ? s.type
      : s.type === 'object' || s.type === 'array'
        ? 'json'
        : 'string';
  const limits = { minimum: s.minimum, maximum: s.maximum, minLength: s.minLength, maxLength: s.maxLength };
  return {
    name,
    type,
    ...(values ? { values } : {}),
    ...(s.default === undefined
      ? {}
      : { default: typeof s.default === 'object' ? JSON.stringify(s.default) : s.default }),
    ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    description: s.description,
  };
}

/** A format's own options: neither the common ones nor earlier names kept for saved schedules. */
function ownSpecs(format: ExportFormat): FormatOptionSpec[] {
  const properties: Record<string, TSchema> = formatOptionSchemas[format].properties;
  return Object.entries(properties)
    .filter(([name, schema]) => !Object.hasOwn(commonOptions, name) && !(schema as Keywords).deprecated)
    .map(([name, schema]) => specOf(name, schema));
}

/** Each format's own options (every format also takes the common ones: commonOptionSpecs). */
export const formatOptionSpecs = Object.fromEntries(
  Object.keys(formatOptionSchemas).map((format) => [format, ownSpecs(format as ExportFormat)]),
) as Record<ExportFormat, FormatOptionSpec[]>;

/** Options every format takes. */
export const commonOptionSpecs: FormatOptionSpec[] = Object.entries(commonOptions).map(([name, schema]) =>
  specOf(name, schema),
);
