import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { requirePrincipal, SESSION_COOKIE } from '../../server/plugins/auth.ts';
import { authErrors, Email, ProblemSchema, RoleSchema } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { describeMe, MeSchema } from './me.ts';
import { type LoginResult, login, logout, switchTenant } from './service.ts';

const LoginBody = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: 1, maxLength: 200 }),
    tenantId: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Which of your tenants to sign in to (default: the first)',
      }),
    ),
  },
  { additionalProperties: false },
);

const SwitchBody = Type.Object(
  {
    tenantId: Type.String({
      format: 'uuid',
      description: 'One of your tenants (see `tenants` in /api/v1/me)',
    }),
  },
  { additionalProperties: false },
);

const SessionResult = Type.Object({
  tenantId: Type.String(),
  userId: Type.String(),
  role: RoleSchema,
  expiresAt: Type.String(),
});

export function registerSessionRoutes(app: App, deps: Deps): void {
  const secureCookie = deps.config.publicUrl.startsWith('https:');
  const sendSession = (reply: FastifyReply, result: LoginResult) => {
    reply.setCookie(SESSION_COOKIE, result.token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: secureCookie,
      path: '/',
      expires: result.expiresAt,
    });
    return {
      tenantId: result.tenantId,
      userId: result.userId,
      role: result.role,
      expiresAt: result.expiresAt.toISOString(),
    };
  };

  app.post(
    '/api/v1/auth/login',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in; sets the httpOnly session cookie',
        description:
          'Counted per client address whatever credentials the request carries. After 5 wrong passwords in a row for one e-mail address, the next attempt must wait 30 s, then 1, 2, 4, 8 and at most 15 minutes: attempts during the wait get 429 with Retry-After and are not checked. The right password resets the count; an address the account signed in from before keeps a count of its own.',
        body: LoginBody,
        response: {
          200: SessionResult,
          400: ProblemSchema,
          401: ProblemSchema,
          403: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => sendSession(reply, await login(deps, request.origin, request.body)),
  );

  app.post(
    '/api/v1/auth/switch',
    {
      config: { auth: 'authenticated' },
      schema: {
        tags: ['auth'],
        summary:
          'Switch the signed-in user to another of their tenants (a new session cookie; the old session ends)',
        body: SwitchBody,
        response: { 200: SessionResult, ...authErrors },
      },
    },
    async (request, reply) =>
      sendSession(
        reply,
        await switchTenant(deps, requirePrincipal(request.principal), request.origin, request.body.tenantId),
      ),
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { auth: 'authenticated' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out: revokes the session and clears the cookie',
        response: { 204: Type.Null(), ...authErrors },
      },
    },
    async (request, reply) => {
      await logout(deps, requirePrincipal(request.principal), request.origin);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/me',
    {
      config: { auth: 'authenticated' },
      schema: {
        tags: ['auth'],
        summary: 'The caller: user, tenant, role and permissions',
        response: { 200: MeSchema, ...authErrors },
      },
    },
    async (request) => {
      const p = requirePrincipal(request.principal);
      return describeMe(deps, { tenantId: p.tenantId, userId: p.userId }, p);
    },
  );
}
