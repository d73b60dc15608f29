import { type TSchema, Type } from 'typebox';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../lib/pagination.ts';

// Schemas shared by every module's routes.

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { description: 'RFC 9457 problem details' },
);

export const IdParams = Type.Object(
  { id: Type.String({ format: 'uuid', description: 'Resource id (UUID)' }) },
  { additionalProperties: false },
);

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
  cursor: Type.Optional(Type.String({ maxLength: 500, description: 'nextCursor from the previous page' })),
};

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 320 });
export const Password = Type.String({ minLength: 8, maxLength: 200, description: 'At least 8 characters' });
export const RoleSchema = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('editor'),
  Type.Literal('viewer'),
]);
export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/** Error responses every authenticated route can give, for the OpenAPI document. */
export const authErrors = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  429: ProblemSchema,
};

/** One of a few strings, as a union of literals (the API's enum errors list them). */
export const literals = <T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v)));
