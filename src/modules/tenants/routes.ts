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
import { createTenantAsAdmin, listAllTenants } from './service.ts';

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
}
