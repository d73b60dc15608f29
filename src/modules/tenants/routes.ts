import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import {
  authErrors,
  Email,
  PageQuery,
  Password,
  ProblemSchema,
  pageOf,
  Timestamp,
} from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { createTenantAsAdmin, getLimits, listAllTenants, updateLimits } from './service.ts';

const TenantSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  memberCount: Type.Optional(Type.Integer()),
  createdAt: Timestamp,
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Tenant name' }),
    ownerEmail: Email,
    ownerPassword: Type.Optional(Password),
    ownerName: Type.Optional(Type.String({ maxLength: 200 })),
  },
  {
    additionalProperties: false,
    description: 'An existing account becomes owner as it is; a new one needs ownerPassword',
  },
);

export function registerTenantRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/admin/tenants',
    {
      config: { auth: 'instance-admin' },
      schema: {
        tags: ['admin'],
        summary: 'All tenants (instance admins)',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(TenantSchema), ...authErrors },
      },
    },
    async (request) =>
      listAllTenants(deps, { cursor: request.query.cursor, limit: request.query.limit ?? 50 }),
  );

  app.post(
    '/api/v1/admin/tenants',
    {
      config: { auth: 'instance-admin' },
      schema: {
        tags: ['admin'],
        summary: "Create a tenant with its owner; returns the owner's API key (shown once)",
        body: CreateBody,
        response: {
          201: Type.Object({ tenantId: Type.String(), userId: Type.String(), apiKey: Type.String() }),
          409: ProblemSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const result = await createTenantAsAdmin(deps, requirePrincipal(request.principal), request.origin, {
        tenantName: b.name,
        email: b.ownerEmail,
        password: b.ownerPassword,
        ownerName: b.ownerName,
      });
      return reply
        .code(201)
        .send({ tenantId: result.tenantId, userId: result.userId, apiKey: result.apiKey });
    },
  );

  const Limit = (max: number, what: string) =>
    Type.Union([Type.Integer({ minimum: 1, maximum: max }), Type.Null()], {
      description: `${what}; null: the instance default`,
    });
  const LimitsSchema = Type.Object({
    maxExportRows: Type.Union([Type.Integer(), Type.Null()]),
    maxExportBytes: Type.Union([Type.Integer(), Type.Null()]),
    maxRunSeconds: Type.Union([Type.Integer(), Type.Null()]),
    effective: Type.Object({
      maxExportRows: Type.Integer(),
      maxExportBytes: Type.Integer(),
      maxRunSeconds: Type.Integer(),
    }),
  });
  const TenantParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

  app.get(
    '/api/v1/admin/tenants/:id/limits',
    {
      config: { auth: 'instance-admin' },
      schema: {
        tags: ['admin'],
        summary: "A tenant's export limits",
        params: TenantParams,
        response: { 200: LimitsSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getLimits(deps, request.params.id),
  );

  app.put(
    '/api/v1/admin/tenants/:id/limits',
    {
      config: { auth: 'instance-admin' },
      schema: {
        tags: ['admin'],
        summary: "Set a tenant's export limits (rows, bytes, run time); null uses the instance default",
        params: TenantParams,
        body: Type.Object(
          {
            maxExportRows: Limit(10_000_000_000, 'Rows per export'),
            maxExportBytes: Limit(10_000_000_000_000, 'Bytes per export file'),
            maxRunSeconds: Limit(7 * 86_400, 'Seconds per run'),
          },
          { additionalProperties: false },
        ),
        response: { 200: LimitsSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) =>
      updateLimits(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body,
      ),
  );
}
