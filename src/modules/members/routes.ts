import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import {
  authErrors,
  IdParams,
  PageQuery,
  ProblemSchema,
  pageOf,
  RoleSchema,
  Timestamp,
} from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { changeMemberRole, getTenantMember, listTenantMembers, removeMember } from './service.ts';

const MemberSchema = Type.Object({
  id: Type.String({ description: 'The user id' }),
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  hasPassword: Type.Boolean(),
  joinedAt: Timestamp,
});

const PatchBody = Type.Object({ role: RoleSchema }, { additionalProperties: false });
const conflicts = { 404: ProblemSchema, 409: ProblemSchema };

export function registerMemberRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/members',
    {
      config: { auth: { permission: 'members:read' } },
      schema: {
        tags: ['members'],
        summary: 'Users of your tenant and their roles',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(MemberSchema), ...authErrors },
      },
    },
    async (request) =>
      listTenantMembers(deps, requirePrincipal(request.principal), {
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
      }),
  );

  app.get(
    '/api/v1/members/:id',
    {
      config: { auth: { permission: 'members:read' }, resource: 'member' },
      schema: {
        tags: ['members'],
        summary: 'One member',
        params: IdParams,
        response: { 200: MemberSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getTenantMember(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.patch(
    '/api/v1/members/:id',
    {
      config: { auth: { permission: 'members:write' }, resource: 'member' },
      schema: {
        tags: ['members'],
        summary: "Change a member's role (the last owner cannot be demoted)",
        params: IdParams,
        body: PatchBody,
        response: { 200: MemberSchema, ...conflicts, ...authErrors },
      },
    },
    async (request) =>
      changeMemberRole(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body.role,
      ),
  );

  app.delete(
    '/api/v1/members/:id',
    {
      config: { auth: { permission: 'members:write' }, resource: 'member' },
      schema: {
        tags: ['members'],
        summary: 'Remove a member (the last owner cannot be removed)',
        params: IdParams,
        response: { 204: Type.Null(), ...conflicts, ...authErrors },
      },
    },
    async (request, reply) => {
      await removeMember(deps, requirePrincipal(request.principal), request.origin, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
