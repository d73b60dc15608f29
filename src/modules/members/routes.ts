import { Type } from 'typebox';
import { Invalid } from '../../lib/errors.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import {
  authErrors,
  Email,
  IdParams,
  PageQuery,
  ProblemSchema,
  pageOf,
  RoleSchema,
  Timestamp,
} from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { CreatedInvitationSchema } from '../invitations/routes.ts';
import { createInvitation } from '../invitations/service.ts';
import { changeMemberRole, getTenantMember, listTenantMembers, removeMember } from './service.ts';

const MemberSchema = Type.Object({
  id: Type.String({ description: 'The user id' }),
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  hasPassword: Type.Boolean(),
  joinedAt: Timestamp,
});

// Adding a member sends an invitation: the account joins when its owner accepts.
// `password` was how a caller created the account for the invitee; it would let
// an admin choose the password of someone else's account (and claim an address
// before its owner), so it is refused with a reason instead of being ignored.
const AddBody = Type.Object(
  {
    email: Email,
    role: RoleSchema,
    name: Type.Optional(Type.String({ maxLength: 200, description: 'A name suggested for a new account' })),
    password: Type.Optional(
      Type.String({
        maxLength: 200,
        deprecated: true,
        description: 'No longer accepted: the invitee chooses their own password when accepting',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Invites the address; the answer is the same whether or not it has an account. The invitee accepts with POST /api/v1/invitations/accept',
  },
);

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

  app.post(
    '/api/v1/members',
    {
      config: { auth: { permission: 'members:write' } },
      schema: {
        tags: ['members'],
        summary: 'Invite someone to your tenant with a role (202: they join when they accept)',
        body: AddBody,
        response: { 202: CreatedInvitationSchema, ...conflicts, ...authErrors },
      },
    },
    async (request, reply) => {
      const { password, ...invite } = request.body;
      if (password !== undefined)
        throw Invalid.field(
          'password',
          'is no longer accepted: adding a member sends an invitation, and the invitee chooses their own password when accepting it',
        );
      const created = await createInvitation(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        invite,
      );
      return reply.code(202).send(created);
    },
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
