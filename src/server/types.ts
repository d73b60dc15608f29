import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Principal, RequestOrigin } from '../modules/auth-context.ts';
import type { Permission } from '../modules/members/roles.ts';

/** What a route demands of its caller. Every /api/v1 route must declare one. */
export type RouteAuth = 'public' | 'authenticated' | 'instance-admin' | { permission: Permission };

export interface RegisteredRoute {
  method: string;
  url: string;
  config: { auth?: RouteAuth; resource?: string };
  body: unknown;
  querystring: unknown;
  hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: RegisteredRoute[];
    /** Compiles every validator and serializer now (they are compiled on first use); returns how many. */
    compileSchemas(): number;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Why credentials that were sent were rejected, if they were. */
    authProblem: string | null;
    authVia: 'api_key' | 'session' | null;
    origin: RequestOrigin;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** The kind of resource `:id` names in this route's path (used by the cross-tenant test). */
    resource?: string;
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
