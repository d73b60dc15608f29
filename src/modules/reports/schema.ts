import { Type } from 'typebox';
import { MAX_SQL_BYTES } from '../../engine/sources/sql-rejected.ts';
import { literals, Timestamp } from '../../server/schemas.ts';
import { aggregates, filterOps } from './builder.ts';
import { listItemTypes, parameterTypes } from './parameters.ts';

export const ParameterDefinitionSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    type: literals(parameterTypes),
    items: Type.Optional(literals(listItemTypes)),
    default: Type.Optional(
      Type.Unknown({
        description:
          'A value of the type; for date/datetime also today, yesterday, start_of_week, start_of_month, start_of_last_month, end_of_last_month, start_of_quarter, start_of_year, last_successful_run, run_time',
      }),
    ),
    required: Type.Optional(
      Type.Boolean({ description: 'Default true; a parameter with a default is never missing' }),
    ),
    label: Type.Optional(Type.String({ maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

/** A declaration as answers show it (enums as strings with their values). */
export const ParameterViewSchema = Type.Object({
  name: Type.String(),
  type: Type.String({ enum: [...parameterTypes] }),
  items: Type.Optional(Type.String({ enum: [...listItemTypes] })),
  default: Type.Optional(Type.Unknown()),
  required: Type.Optional(Type.Boolean()),
  label: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
});

const FilterValue = Type.Union([
  Type.String({ maxLength: 10_000 }),
  Type.Number(),
  Type.Boolean(),
  Type.Object({ param: Type.String({ maxLength: 63 }) }, { additionalProperties: false }),
]);

export const BuilderSpecSchema = Type.Object(
  {
    table: Type.String({ minLength: 1, maxLength: 300 }),
    columns: Type.Array(
      Type.Object(
        {
          column: Type.String({ minLength: 1, maxLength: 300 }),
          label: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
          aggregate: Type.Optional(literals(aggregates)),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 500 },
    ),
    filters: Type.Optional(
      Type.Array(
        Type.Object(
          {
            column: Type.String({ minLength: 1, maxLength: 300 }),
            op: literals(filterOps),
            value: Type.Optional(FilterValue),
            values: Type.Optional(Type.Array(FilterValue, { maxItems: 1000 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 100 },
      ),
    ),
    groupBy: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 300 }), { maxItems: 100 })),
    sort: Type.Optional(
      Type.Array(
        Type.Object(
          {
            column: Type.String({ minLength: 1, maxLength: 300 }),
            direction: Type.Optional(literals(['asc', 'desc'] as const)),
          },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const definition = {
  connectionId: Type.String({ format: 'uuid' }),
  sql: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: MAX_SQL_BYTES }), Type.Null()])),
  spec: Type.Optional(Type.Union([BuilderSpecSchema, Type.Null()])),
  parameters: Type.Optional(Type.Array(ParameterDefinitionSchema, { maxItems: 100 })),
};

export const ReportCreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 5000 })),
    ...definition,
  },
  { additionalProperties: false },
);

export const ReportPatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 5000 })),
    connectionId: Type.Optional(Type.String({ format: 'uuid' })),
    sql: definition.sql,
    spec: definition.spec,
    parameters: definition.parameters,
  },
  { additionalProperties: false },
);

export const ReportSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  connectionId: Type.String(),
  sql: Type.Optional(Type.String()),
  spec: Type.Optional(Type.Unknown()),
  parameters: Type.Array(ParameterViewSchema),
  templateKey: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const previewOptions = {
  parameters: Type.Optional(
    Type.Record(Type.String(), Type.Unknown(), { description: 'Parameter values by name' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 100 })),
  timezone: Type.Optional(
    Type.String({ maxLength: 100, description: 'IANA zone for relative dates (default UTC)' }),
  ),
};

export const PreviewBody = Type.Object(previewOptions, { additionalProperties: false });
export const UnsavedPreviewBody = Type.Object(
  { report: Type.Object(definition, { additionalProperties: false }), ...previewOptions },
  { additionalProperties: false },
);

export const PreviewResultSchema = Type.Object({
  columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), dbType: Type.String() })),
  rows: Type.Array(Type.Array(Type.Unknown())),
  rowCount: Type.Integer(),
  truncated: Type.Boolean({ description: 'More rows than shown' }),
  truncatedBy: Type.Union([Type.Literal('rows'), Type.Literal('bytes'), Type.Null()], {
    description:
      'What ended the preview early: the row limit, or the byte cap (4 MB of values, 64 MB read from the source)',
  }),
  cutValues: Type.Array(
    Type.Object({
      row: Type.Integer({ description: 'Index in rows' }),
      column: Type.Integer({ description: 'Index in columns' }),
      bytes: Type.Integer({ description: "The value's full size in bytes" }),
    }),
    {
      description:
        'Values longer than 64 KB (or than what was left of the byte cap): the cell holds their first bytes, as text (JSON cut as its text) or hex',
    },
  ),
  elapsedMs: Type.Integer(),
  parameters: Type.Record(Type.String(), Type.Unknown(), {
    description: 'The parameter values it ran with: given or default, relative dates resolved',
  }),
});

export const TemplateSchema = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  sql: Type.String(),
  parameters: Type.Array(ParameterViewSchema),
});

export const ResolveParametersBody = Type.Object(
  {
    parameters: Type.Array(ParameterDefinitionSchema, { maxItems: 100, description: 'The declarations' }),
    values: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Values by name; a missing one takes its default',
      }),
    ),
    timezone: Type.Optional(
      Type.String({ maxLength: 100, description: 'IANA zone for relative dates (default UTC)' }),
    ),
    at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: "The moment to resolve relative dates at, e.g. a schedule's next run (default now)",
      }),
    ),
  },
  { additionalProperties: false },
);

export const ResolvedParametersSchema = Type.Object({
  values: Type.Record(Type.String(), Type.Unknown(), {
    description: 'Each parameter as a run would bind it (null: missing or invalid)',
  }),
  errors: Type.Array(Type.Object({ path: Type.String(), message: Type.String() }), {
    description: 'What is wrong with a value, per parameter (path parameters.<name>)',
  }),
});
