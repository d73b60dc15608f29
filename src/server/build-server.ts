import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { LogController } from 'fastify';
import helmet from 'helmet';
import { RateLimited } from '../lib/errors.ts';
import { scrubRequestPath } from '../lib/log.ts';
import type { Deps } from '../modules/deps.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerIdempotency } from './plugins/idempotency.ts';
import { registerMetrics } from './plugins/metrics.ts';
import { registerProblemJson } from './plugins/problem-json.ts';
import { registerRoutes } from './routes.ts';
import type { App, RegisteredRoute } from './types.ts';
import { loadWebApp, registerMissingWebApp } from './web-app.ts';

export const BODY_LIMIT = 1024 * 1024;
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const RATE_WINDOW_MS = 15 * 60 * 1000;
const SIGN_IN_ROUTES = new Set(['/api/v1/auth/login', '/api/v1/setup']);

function createValidators() {
  // Bodies are checked strictly: no type coercion, unknown fields rejected (not
  // silently dropped). Query strings and path parameters arrive as text, so they
  // are coerced to the declared types.
  const base = { allErrors: true, removeAdditional: false, useDefaults: true, strict: false } as const;
  const body = new Ajv({ ...base, coerceTypes: false });
  const params = new Ajv({ ...base, coerceTypes: 'array' });
  for (const ajv of [body, params]) addFormats.default(ajv);
  return { body, params };
}

/**
 * A validator or serializer compiled on its first call. It keeps the compiled
 * function's `errors` (Fastify reads them from the function it was given), and
 * registers its compilation so that tests can compile every schema at once.
 */
function lazySchema<F extends (data: never) => unknown>(all: (() => void)[], compile: () => F): F {
  let compiled: F | undefined;
  const run = (): F => {
    compiled ??= compile();
    return compiled;
  };
  all.push(run);
  const lazy = Object.assign(
    (data: never) => {
      const fn = run();
      const result = fn(data);
      lazy.errors = (fn as { errors?: unknown }).errors;
      return result;
    },
    { errors: undefined as unknown },
  );
  return lazy as unknown as F;
}

/** Builds the HTTP server without listening, so tests can use `inject`. */
export async function buildServer(deps: Deps): Promise<App> {
  // Validators and serializers are compiled when a route first needs them, not at
  // start: compiling all of them (Ajv and fast-json-stringify, ~400 schemas) took
  // about 0.7 s of every start and memory that most routes never use.
  const compiling: (() => void)[] = [];
  const buildSerializer = SerializerSelector();
  const app = Fastify({
    schemaController: {
      compilersFactory: {
        buildSerializer: (...args: Parameters<typeof buildSerializer>) => {
          const compile = buildSerializer(...args);
          return (route: Parameters<typeof compile>[0]) => lazySchema(compiling, () => compile(route));
        },
      },
    },
    loggerInstance: deps.log.child({ component: 'http' }),
    // One line per request is written in onResponse below, without query strings or tokens.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    trustProxy: deps.config.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Signed download tokens are longer than the default limit of 100 characters.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Every route as registered, with its auth requirement: read by start-up checks
  // and by the tests that walk all routes (permissions, tenancy, bad input).
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) {
      if (method === 'HEAD') continue;
      const schema = route.schema ?? {};
      routes.push({
        method,
        url: route.url,
        config: route.config ?? {},
        body: schema.body,
        querystring: schema.querystring,
        hidden: schema.hide === true,
      });
    }
  });

  // The API speaks JSON only: any other body type is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');

  const validators = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    lazySchema(compiling, () =>
      httpPart === 'body' ? validators.body.compile(schema) : validators.params.compile(schema),
    ),
  );
  app.decorate('compileSchemas', () => {
    for (const compile of compiling) compile();
    return compiling.length;
  });

  const web = await loadWebApp();
  registerProblemJson(app, web ? (request, reply) => web.serve(request, reply) : undefined);
  if (!web) registerMissingWebApp(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        path: scrubRequestPath(request.url.split('?')[0]!),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  // Plain http (a laptop's http://localhost) must not be told to upgrade or to
  // remember HTTPS: the browser would then refuse the page.
  const https = deps.config.publicUrl.startsWith('https:');
  // The security headers are worked out once here; the Fastify plugin for helmet
  // built them again on every request (a quarter of a request's time, measured).
  const securityHeaders = helmet({
    hsts: https ? { maxAge: 15_552_000, includeSubDomains: true } : false,
    contentSecurityPolicy: {
      directives: {
        upgradeInsecureRequests: https ? [] : null,
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
  app.addHook('onRequest', (request, reply, done) =>
    securityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined)),
  );
  await app.register(cookie);
  registerAuth(app, deps);
  await app.register(rateLimit, {
    global: true,
    timeWindow: RATE_WINDOW_MS,
    keyGenerator: (request) => {
      const p = request.principal;
      // Sign-in and setup count per address whatever credentials come along: a
      // Bearer header or cookie must not buy a password guesser a fresh budget.
      if (!p || SIGN_IN_ROUTES.has(request.routeOptions.url ?? '')) return `ip:${request.ip}`;
      return `${p.kind}:${p.apiKeyId ?? p.sessionId}`;
    },
    // Anonymous callers and the sign-in endpoints get the low limit (guessing
    // passwords and keys); authenticated callers the high one.
    max: (request, key) =>
      key.startsWith('ip:') ||
      request.url.startsWith('/api/v1/auth/') ||
      request.url.startsWith('/api/v1/setup')
        ? deps.config.rateLimitAnonymous
        : deps.config.rateLimitAuthenticated,
    errorResponseBuilder: (_request, context) => new RateLimited(Math.max(1, Math.ceil(context.ttl / 1000))),
  });
  registerIdempotency(app, deps);
  // A request without a body is read as an empty object: a POST whose fields are
  // all optional needs none (`curl -X POST …/templates/x/use`), and one with
  // required fields is told which are missing rather than "body must be object".
  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined && request.body !== null) return;
    const schema = request.routeOptions.schema?.body as { type?: string } | undefined;
    if (schema?.type === 'object') request.body = {};
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ferry API',
        version: '1',
        description:
          'Scheduled data exports and report delivery. Authenticate with `Authorization: Bearer fry_...` (an API key) or the session cookie set by /api/v1/auth/login (cookie-authenticated writes must send `X-Requested-With: ferry`). Errors are application/problem+json (RFC 9457). POSTs accept an `Idempotency-Key` header; keys are per caller (each signed-in user, across their sessions, and each API key has its own): a retry by the same caller with the same role gets the first answer again (`Idempotent-Replayed: true`), the same key from another caller is a new request of theirs and never receives an answer stored for someone else, and a key reused for a different request, or after the role of the caller changed, is refused with 422.',
      },
      servers: [{ url: deps.config.publicUrl }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (fry_...)' },
          session: { type: 'apiKey', in: 'cookie', name: 'ferry_session' },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { url: '/api/v1/openapi.json' } as never,
  });
  app.get('/api/v1/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  registerMetrics(app, deps.queue, deps.log, deps.db, deps.config.metricsToken);
  registerRoutes(app, deps);
  return app;
}

export { RATE_WINDOW_MS };
