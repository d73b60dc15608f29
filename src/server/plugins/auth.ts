import { Forbidden, Unauthorized } from '../../lib/errors.ts';
import { authenticateApiKey } from '../../modules/api-keys/service.ts';
import type { Principal } from '../../modules/auth-context.ts';
import type { Deps } from '../../modules/deps.ts';
import { authenticateSession } from '../../modules/sessions/service.ts';
import type { App, RouteAuth } from '../types.ts';

export const SESSION_COOKIE = 'ferry_session';
// Cookie-authenticated writes must carry this header. A cross-site form post
// cannot set it and a cross-site fetch with it needs a CORS preflight we never allow.
const CSRF_HEADER = 'x-requested-with';
const CSRF_VALUE = 'ferry';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Returns the authenticated principal or throws the right 401/403. Use in handlers. */
export function requirePrincipal(principal: Principal | null): Principal {
  if (!principal) throw new Unauthorized();
  return principal;
}

export function registerAuth(app: App, deps: Deps): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('authProblem', null);
  app.decorateRequest('authVia', null);
  app.decorateRequest('origin', null as never);

  app.addHook('onRoute', (route) => {
    const url = route.url;
    if (url.startsWith('/api/v1') && route.config?.auth === undefined) {
      throw new Error(`Route ${route.method} ${url} declares no auth requirement`);
    }
  });

  // Resolve who is calling before rate limiting, so limits can be per key. Nothing
  // is rejected here: enforcement happens per route in preValidation.
  app.addHook('onRequest', async (request) => {
    request.origin = {
      ip: request.ip ?? null,
      userAgent: request.headers['user-agent']?.slice(0, 500) ?? null,
    };
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match) {
        request.authProblem = 'The Authorization header must be "Bearer <api key>"';
        return;
      }
      request.principal = await authenticateApiKey(deps.db, deps.clock, match[1]!, deps.authCache);
      request.authVia = 'api_key';
      if (!request.principal) request.authProblem = 'The API key is not valid (unknown, revoked or expired)';
      return;
    }
    const token = request.cookies[SESSION_COOKIE];
    if (token) {
      request.principal = await authenticateSession(deps.db, deps.clock, token, deps.authCache);
      request.authVia = 'session';
      if (!request.principal) request.authProblem = 'Your session has expired; sign in again';
    }
  });

  // preValidation: after rate limiting (onRequest) and before the body is checked,
  // so an unauthorised caller learns nothing about the route's schema.
  app.addHook('preValidation', async (request) => {
    const auth: RouteAuth | undefined = request.routeOptions.config?.auth;
    if (auth === undefined || auth === 'public') return;
    const principal = request.principal;
    if (!principal)
      throw new Unauthorized(
        request.authProblem ?? 'Authentication required: send "Authorization: Bearer <api key>" or sign in',
      );
    if (
      request.authVia === 'session' &&
      !SAFE_METHODS.has(request.method) &&
      request.headers[CSRF_HEADER] !== CSRF_VALUE
    ) {
      throw new Forbidden(
        `Requests authenticated by the session cookie must send the header "X-Requested-With: ${CSRF_VALUE}"`,
      );
    }
    if (auth === 'authenticated') return;
    if (auth === 'instance-admin') {
      if (!principal.isInstanceAdmin) throw new Forbidden('Only instance admins may do this');
      return;
    }
    if (!principal.permissions.has(auth.permission)) {
      throw new Forbidden(`Your role (${principal.role}) lacks the permission ${auth.permission}`);
    }
  });
}
