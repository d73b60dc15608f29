import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { TSchema } from 'typebox';

// Checks that services make themselves (a destination's settings, a format's
// options: schemas that depend on another field, so no route can check them),
// with Ajv, the engine that checks the API's request bodies. TypeBox's own
// compiler did this before; loading it cost every process ~300 more module files
// and ~0.15 s of CPU (measured), for checks Ajv makes the same way.
//
// The schemas are TypeBox's, which are JSON Schema, plus TypeBox's refinements
// (`Type.Refine`: a function that says whether a value is allowed, kept under
// `~refine`), which Ajv runs here as the keyword `refine` (Ajv's keyword names
// cannot start with `~`): its error names which refinement failed.

/** One error, in Ajv's form (keyword, instancePath, params, message). */
export type SchemaError = ErrorObject;

export interface SchemaCheck {
  /** True when the value is allowed. */
  check(value: unknown): boolean;
  /** Every reason the value is not allowed (none when it is). */
  errors(value: unknown): SchemaError[];
}

interface Refinement {
  check(value: unknown): boolean;
  error(): string;
}

type RefineValidate = ((data: unknown) => boolean) & {
  errors?: Partial<ErrorObject>[];
};

let engine: Ajv | undefined;

function ajv(): Ajv {
  if (engine) return engine;
  // Nothing filled in or coerced: a check must not change what is saved.
  const created = new Ajv({ allErrors: true, strict: false, useDefaults: false, coerceTypes: false });
  addFormats.default(created);
  created.addKeyword({
    keyword: 'refine',
    errors: true,
    // As TypeBox does, a refinement is asked only about a value its schema allows
    // (a length check never sees null; a rule between options never runs while
    // an option is wrong): the rest of the schema is checked first.
    compile(refinements: Refinement[], parent: Record<string, unknown>) {
      const { refine: _, ...rest } = parent;
      const base = created.compile(rest);
      const validate: RefineValidate = (data) => {
        if (!base(data)) return true;
        const index = refinements.findIndex((r) => !r.check(data));
        if (index === -1) return true;
        validate.errors = [{ keyword: 'refine', params: { index }, message: refinements[index]!.error() }];
        return false;
      };
      return validate;
    },
  });
  engine = created;
  return engine;
}

/**
 * The schema as Ajv reads it: a copy with TypeBox's `~refine` (a property that
 * JSON and Object.entries do not see) under the keyword `refine`.
 */
function forAjv(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forAjv);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = forAjv(value);
  if (Object.hasOwn(schema, '~refine')) copy['refine'] = (schema as Record<string, unknown>)['~refine'];
  return copy;
}

const compiled = new WeakMap<TSchema, SchemaCheck>();

/** The check of a schema, compiled on its first use and kept with the schema. */
export function schemaCheck(schema: TSchema): SchemaCheck {
  let found = compiled.get(schema);
  if (!found) {
    const validate = ajv().compile(forAjv(schema) as object);
    found = {
      check: (value) => validate(value) === true,
      // Ajv says "must NOT have more than 3 characters"; Ferry's messages have always said "must not".
      errors: (value) =>
        validate(value)
          ? []
          : (validate.errors ?? []).map((e) => ({ ...e, message: e.message?.replace(' NOT ', ' not ') })),
    };
    compiled.set(schema, found);
  }
  return found;
}
