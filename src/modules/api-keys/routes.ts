import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import {
  authErrors,
  IdParams,
  NullableTimestamp,
  PageQuery,
  ProblemSchema,
  pageOf,
  RoleSchema,
  Timestamp,
} from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { createApiKey, getKey, listKeys, revokeKey } from './service.ts';

const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  role: RoleSchema,
  instanceAdmin: Type.Boolean(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: RoleSchema,
    expiresAt: Type.Optional(Timestamp),
    instanceAdmin: Type.Optional(
      Type.Boolean({ description: 'Lets the key manage tenants (instance admins only)' }),
    ),
  },
  { additionalProperties: false },
);

export function registerApiKeyRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/api-keys',
    {
      config: { auth: { permission: 'api-keys:read' } },
      schema: {
        tags: ['api-keys'],
        summary: 'API keys of your tenant',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(ApiKeySchema), ...authErrors },
      },
    },
    async (request) =>
      listKeys(deps, requirePrincipal(request.principal), {
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
      }),
  );

  app.post(
    '/api/v1/api-keys',
    {
      config: { auth: { permission: 'api-keys:write' } },
      schema: {
        tags: ['api-keys'],
        summary: 'Create a key; the secret is in this response only',
        body: CreateBody,
        response: { 201: Type.Object({ ...ApiKeySchema.properties, apiKey: Type.String() }), ...authErrors },
      },
    },
    async (request, reply) => {
      const issued = await createApiKey(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.body,
      );
      return reply.code(201).send({ ...issued.view, apiKey: issued.secret });
    },
  );

  app.get(
    '/api/v1/api-keys/:id',
    {
      config: { auth: { permission: 'api-keys:read' }, resource: 'api-key' },
      schema: {
        tags: ['api-keys'],
        summary: 'One API key (without its secret)',
        params: IdParams,
        response: { 200: ApiKeySchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getKey(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.delete(
    '/api/v1/api-keys/:id',
    {
      config: { auth: { permission: 'api-keys:write' }, resource: 'api-key' },
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke a key (it stops working at once)',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await revokeKey(deps, requirePrincipal(request.principal), request.origin, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
