import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Invalid } from '../../lib/errors.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import {
  authErrors,
  Email,
  IdParams,
  NullableTimestamp,
  PageQuery,
  Password,
  ProblemSchema,
  pageOf,
  RoleSchema,
  Timestamp,
} from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { acceptInvitation, previewInvitation } from './accept.ts';
import { invitePageHtml, invitePageScript } from './page.ts';
import {
  createInvitation,
  getTenantInvitation,
  listTenantInvitations,
  revokeTenantInvitation,
} from './service.ts';

const StatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('expired'),
  Type.Literal('accepted'),
  Type.Literal('revoked'),
]);

export const InvitationSchema = Type.Object({
  id: Type.String(),
  email: Email,
  role: RoleSchema,
  name: Type.String({ description: 'The name suggested for a new account' }),
  status: StatusSchema,
  invitedBy: Type.Object({
    userId: Type.Union([Type.String(), Type.Null()]),
    apiKeyId: Type.Union([Type.String(), Type.Null()]),
    label: Type.String(),
  }),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  acceptedAt: NullableTimestamp,
  revokedAt: NullableTimestamp,
  revokedReason: Type.Union([
    Type.Literal('revoked'),
    Type.Literal('superseded'),
    Type.Literal('too_many_attempts'),
    Type.Null(),
  ]),
  emailDelivery: Type.Object({
    status: Type.Union([
      Type.Literal('pending'),
      Type.Literal('sent'),
      Type.Literal('failed'),
      Type.Literal('not_configured'),
    ]),
    error: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const CreatedInvitationSchema = Type.Object({
  ...InvitationSchema.properties,
  acceptUrl: Type.String({
    description: 'The link that accepts the invitation; shown in this response only',
  }),
});

const Token = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'The token from the invitation link',
});

const AcceptBody = Type.Object(
  {
    token: Token,
    // The password of the account for the invitation's address, or the one to choose for a
    // new account; not needed when signed in as that account.
    password: Type.Optional(Password),
    name: Type.Optional(Type.String({ maxLength: 200, description: 'Your name, for a new account' })),
  },
  { additionalProperties: false },
);

const AcceptResultSchema = Type.Object({
  tenant: Type.Object({ id: Type.String(), name: Type.String() }),
  member: Type.Object({
    id: Type.String(),
    email: Type.String(),
    name: Type.String(),
    role: RoleSchema,
    hasPassword: Type.Boolean(),
    joinedAt: Timestamp,
  }),
});

const publicErrors = { 400: ProblemSchema, 404: ProblemSchema, 410: ProblemSchema, 429: ProblemSchema };

// Whoever holds a token may try it without signing in, so these routes count
// requests per client address whatever credentials come with them, at the
// anonymous limit.
function perAddressLimit(deps: Deps) {
  return {
    max: deps.config.rateLimitAnonymous,
    keyGenerator: (request: FastifyRequest) => `invitation-ip:${request.ip}`,
  };
}

/**
 * The signed-in user, when the request may act with the session: a cookie alone
 * does not count, because a page on another site can make the browser send it
 * (the same `X-Requested-With: ferry` rule as the authenticated routes).
 */
function sessionUserOf(request: FastifyRequest): string | null {
  const p = request.principal;
  if (request.authVia !== 'session' || p?.kind !== 'user') return null;
  return request.headers['x-requested-with'] === 'ferry' ? p.userId : null;
}

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

export function registerInvitationRoutes(app: App, deps: Deps): void {
  // POST /members lives here: adding a member is inviting them.
  app.post(
    '/api/v1/members',
    {
      config: { auth: { permission: 'members:write' } },
      schema: {
        tags: ['members'],
        summary: 'Invite someone to your tenant with a role (202: they join when they accept)',
        body: AddBody,
        response: { 202: CreatedInvitationSchema, 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
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
    '/api/v1/invitations',
    {
      config: { auth: { permission: 'members:read' } },
      schema: {
        tags: ['members'],
        summary: "Your tenant's invitations, newest first",
        querystring: Type.Object(
          { ...PageQuery, status: Type.Optional(StatusSchema) },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(InvitationSchema), ...authErrors },
      },
    },
    async (request) =>
      listTenantInvitations(deps, requirePrincipal(request.principal), {
        status: request.query.status,
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
      }),
  );

  app.get(
    '/api/v1/invitations/:id',
    {
      config: { auth: { permission: 'members:read' }, resource: 'invitation' },
      schema: {
        tags: ['members'],
        summary: 'One invitation',
        params: IdParams,
        response: { 200: InvitationSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getTenantInvitation(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.delete(
    '/api/v1/invitations/:id',
    {
      config: { auth: { permission: 'members:write' }, resource: 'invitation' },
      schema: {
        tags: ['members'],
        summary: 'Withdraw an invitation; its link stops working',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await revokeTenantInvitation(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/invitations/preview',
    {
      config: { auth: 'public', rateLimit: perAddressLimit(deps) },
      schema: {
        tags: ['members'],
        summary: 'What an invitation is for (tenant, role, address), for the page its link opens',
        body: Type.Object({ token: Token }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            email: Type.String(),
            role: RoleSchema,
            status: StatusSchema,
            tenant: Type.Object({ name: Type.String() }),
            invitedBy: Type.String(),
            expiresAt: Timestamp,
          }),
          ...publicErrors,
        },
      },
    },
    async (request) => previewInvitation(deps, request.body.token),
  );

  app.post(
    '/api/v1/invitations/accept',
    {
      config: { auth: 'public', rateLimit: perAddressLimit(deps) },
      schema: {
        tags: ['members'],
        summary:
          'Accept an invitation: signed in as the invited account, with its password, or with the password for a new account',
        body: AcceptBody,
        response: {
          200: AcceptResultSchema,
          ...publicErrors,
          401: ProblemSchema,
          403: ProblemSchema,
          409: ProblemSchema,
        },
      },
    },
    async (request) => acceptInvitation(deps, sessionUserOf(request), request.origin, request.body),
  );

  app.get('/invite', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(invitePageHtml),
  );
  app.get('/invite.js', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').send(invitePageScript),
  );
}
