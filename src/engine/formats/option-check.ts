import type { TSchema } from 'typebox';
import type { FieldError } from '../../lib/errors.ts';
import { type SchemaCheck, type SchemaError, schemaCheck } from '../../lib/schema-check.ts';
import {
  type Compression,
  CompressionSchema,
  crossRules,
  formatOptionSchemas,
  patternRules,
} from './options.ts';
import type { ExportFormat } from './registry.ts';

// Checks formatOptions against the format's schema and says what is wrong the
// way the API's other validation errors do (an enum: "must be one of crlf, lf"),
// with one message per option that states its whole rule, rather than one per
// failed keyword ("must match pattern …").

export class FormatOptionError extends Error {
  readonly path: string;
  /** Every option at fault; the first is `path`. */
  readonly errors: FieldError[];
  constructor(path: string, message: string, errors: FieldError[] = [{ path, message }]) {
    super(`${path} ${message}`);
    this.path = path;
    this.errors = errors;
  }
}

/** The JSON Schema keywords an option's rule is read from. */
interface Keywords {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  items?: Keywords;
}

/** What an option must be, in words, from its schema: the message is "must be " and this. */
export function ruleOf(name: string, schema: TSchema): string {
  const s = schema as Keywords;
  if (s.pattern !== undefined) return patternRules[name] ?? `text matching ${s.pattern}`;
  if (s.type === 'array')
    return `a list of different ${s.items?.enum ? `values out of ${s.items.enum.join(', ')}` : 'values'}`;
  if (s.type === 'object')
    return 'an object: field → {"column": name}, {"value": constant} or {"column": name, "minus": name}';
  if (s.enum) return `one of ${s.enum.join(', ')}`;
  if (s.type === 'boolean') return 'true or false';
  if (s.type === 'integer') return `a whole number from ${s.minimum} to ${s.maximum}`;
  if (s.maxLength === undefined) return 'text';
  return s.minLength
    ? `text of ${s.minLength} to ${s.maxLength} characters`
    : `text of at most ${s.maxLength} characters`;
}

// Compiled on first use (a few ms for all formats), not by every process that imports the registry.
function validatorOf(key: ExportFormat | 'compression'): SchemaCheck {
  return schemaCheck(key === 'compression' ? CompressionSchema : formatOptionSchemas[key]);
}

/** Refuses options the format does not take or values its schema does not allow, naming each option at fault. */
export function checkFormatOptions(format: ExportFormat, options: unknown): void {
  const validator = validatorOf(format);
  if (validator.check(options)) return;
  const errors = fieldErrorsOf(format, validator.errors(options));
  const [first = { path: 'formatOptions', message: 'are not valid' }] = errors;
  throw new FormatOptionError(first.path, first.message, errors);
}

function fieldErrorsOf(format: ExportFormat, errors: SchemaError[]): FieldError[] {
  const properties: Record<string, TSchema> = formatOptionSchemas[format].properties;
  const found = new Map<string, string>();
  const say = (path: string, message: string) => {
    if (!found.has(path)) found.set(path, message);
  };
  // Unknown options first, as they were always checked first: a misspelt name explains the rest.
  // Only at the top: an unknown key inside an option (a mapping's source) is that option's fault, below.
  for (const e of errors)
    if (e.keyword === 'additionalProperties' && e.instancePath === '')
      say(`formatOptions.${e.params['additionalProperty']}`, `is not an option of ${format}`);
  for (const e of errors) {
    const option = e.instancePath.split('/')[1];
    if (option !== undefined) {
      if (Object.hasOwn(properties, option))
        say(`formatOptions.${option}`, `must be ${ruleOf(option, properties[option]!)}`);
    } else if (e.keyword === 'refine') {
      const rule = crossRules[format]?.[e.params['index'] as number];
      if (rule) say(`formatOptions.${rule.option}`, `must be ${rule.rule}`);
    } else if (e.keyword === 'required')
      say(`formatOptions.${e.params['missingProperty']}`, `is required for ${format}`);
    else if (e.keyword === 'type') say('formatOptions', 'must be an object');
  }
  return [...found].map(([path, message]) => ({ path, message }));
}

/** The compression a run's options ask for. */
export function compressionOf(options: Record<string, unknown>): Compression {
  const value = options['compression'];
  if (value === undefined) return 'none';
  if (validatorOf('compression').check(value)) return value as Compression;
  throw new FormatOptionError(
    'formatOptions.compression',
    `must be ${ruleOf('compression', CompressionSchema)}`,
  );
}
