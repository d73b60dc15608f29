import { Type } from 'typebox';
import { sslModes } from '../../engine/sources/tls.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, PageQuery, ProblemSchema, pageOf, Timestamp } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import {
  connectionSchema,
  createTenantConnection,
  deleteTenantConnection,
  getTenantConnection,
  listTenantConnections,
  testSavedConnection,
  testUnsavedConnection,
  updateTenantConnection,
} from './service.ts';

const TypeSchema = Type.Union([
  Type.Literal('demo'),
  Type.Literal('postgres'),
  Type.Literal('mysql'),
  Type.Literal('sqlite'),
]);

const SslModeSchema = Type.Union(
  sslModes.map((m) => Type.Literal(m)),
  {
    description:
      "As libpq: disable; prefer and require encrypt without checking the server (but check its chain when tls.ca is given); verify-ca checks the chain (needs tls.ca); verify-full also the host name. Node's drivers cannot fall back to plain text, so prefer behaves as require.",
  },
);

const pem = (what: string, maxLength: number) =>
  Type.Union([Type.String({ maxLength }), Type.Null()], {
    description: `${what} as PEM text (-----BEGIN …-----), never a file path; null removes it`,
  });

const TlsInput = Type.Object(
  {
    ca: Type.Optional(pem('Certificate authorities to trust', 262_144)),
    cert: Type.Optional(pem('Client certificate', 65_536)),
    key: Type.Optional(pem('Client private key (write-only, stored encrypted)', 65_536)),
    passphrase: Type.Optional(
      Type.Union([Type.String({ maxLength: 1000 }), Type.Null()], {
        description: 'Passphrase of an encrypted key (write-only); null removes it',
      }),
    ),
    servername: Type.Optional(
      Type.Union([Type.String({ maxLength: 253 }), Type.Null()], {
        description:
          'PostgreSQL, verify-full: the name the certificate must carry when the host is an IP address',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Omitted keys keep their stored value; null removes all TLS material',
  },
);

const ConfigInput = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description:
          'postgres://user:pass@host:5432/db?sslmode=require or mysql://…; parsed, the password stored encrypted. Query options are an allow-list — PostgreSQL: sslmode, ssl, application_name, connect_timeout (s), sslpassword; MySQL/MariaDB: ssl-mode (sslMode), ssl, charset (utf8mb4 collations), connectTimeout (ms). A unix socket (host=/dir, socketPath=) only with FERRY_ALLOW_SOCKETS',
      }),
    ),
    host: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'A host name or IP address (a socket path only with FERRY_ALLOW_SOCKETS)',
      }),
    ),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    database: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    user: Type.Optional(Type.String({ maxLength: 255 })),
    password: Type.Optional(
      Type.Union([Type.String({ maxLength: 1000 }), Type.Null()], {
        description: 'Write-only; null removes it',
      }),
    ),
    ssl: Type.Optional(Type.Boolean({ description: 'true: sslmode require; false: disable' })),
    sslmode: Type.Optional(SslModeSchema),
    tls: Type.Optional(Type.Union([TlsInput, Type.Null()])),
    options: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 64 }),
        Type.Union([Type.String({ maxLength: 255 }), Type.Number(), Type.Boolean()]),
        {
          description:
            'Field form: driver options from the same allow-list as a URL query (PostgreSQL: sslmode, ssl, application_name, connect_timeout; MySQL/MariaDB: ssl-mode, sslMode, ssl, charset, connectTimeout); any other is refused by name',
        },
      ),
    ),
    path: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1000, description: 'SQLite: a file inside FERRY_SQLITE_DIR' }),
    ),
  },
  { additionalProperties: false },
);

const allowPrivilegedUser = Type.Boolean({
  description:
    'Confirms that the connection may use an administrator account (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*); without it such a connection is refused (422, naming allowPrivilegedUser)',
});
const privilegeWarnings = Type.Array(Type.String(), {
  description:
    'What the database user may do beyond reading, as the server answered (superuser, server files or programs, write or create privileges); empty when nothing or not yet checked',
});

const ConnectionSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: TypeSchema,
  config: Type.Object(
    {
      url: Type.Optional(Type.String({ description: 'The URL form, without its password' })),
      host: Type.Optional(Type.String()),
      port: Type.Optional(Type.Integer()),
      database: Type.Optional(Type.String()),
      user: Type.Optional(Type.String()),
      ssl: Type.Optional(Type.Boolean()),
      sslmode: Type.Optional(SslModeSchema),
      options: Type.Optional(
        Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
      ),
      tls: Type.Optional(
        Type.Object({
          ca: Type.Optional(Type.String()),
          cert: Type.Optional(Type.String()),
          servername: Type.Optional(Type.String()),
          hasKey: Type.Boolean(),
          hasPassphrase: Type.Boolean(),
        }),
      ),
      path: Type.Optional(Type.String({ description: 'SQLite: the file, relative to FERRY_SQLITE_DIR' })),
    },
    {
      additionalProperties: false,
      description:
        'As given, without secrets: { url, ssl, sslmode, tls? } or { host, port, database, user, ssl, sslmode, options?, tls? }; SQLite { path }; demo {}. tls shows ca, cert, servername and hasKey, hasPassphrase',
    },
  ),
  hasPassword: Type.Boolean(),
  allowPrivilegedUser,
  privilegeWarnings,
  privilegesCheckedAt: Type.Union([Timestamp, Type.Null()], {
    description: 'When the privileges were checked for the current settings; null: not yet (on first use)',
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    type: Type.Union([Type.Literal('postgres'), Type.Literal('mysql'), Type.Literal('sqlite')]),
    config: ConfigInput,
    allowPrivilegedUser: Type.Optional(allowPrivilegedUser),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    config: Type.Optional(ConfigInput),
    allowPrivilegedUser: Type.Optional(allowPrivilegedUser),
  },
  { additionalProperties: false },
);
const TestResult = Type.Object({
  ok: Type.Literal(true),
  version: Type.String(),
  latencyMs: Type.Integer(),
  privilegeWarnings,
  isPrivilegedUser: Type.Boolean({
    description: 'An administrator account: saving it needs allowPrivilegedUser',
  }),
});

const ColumnInfo = Type.Object({
  name: Type.String(),
  type: Type.String(),
  dbType: Type.String(),
  nullable: Type.Boolean(),
});
const SchemaResult = Type.Object({
  tables: Type.Array(
    Type.Object({
      schema: Type.Union([Type.String(), Type.Null()]),
      name: Type.String(),
      kind: Type.String(),
      columns: Type.Array(ColumnInfo),
    }),
  ),
  cachedAt: Timestamp,
});

export function registerConnectionRoutes(app: App, deps: Deps): void {
  const read = { auth: { permission: 'connections:read' as const } };
  const write = { auth: { permission: 'connections:write' as const } };

  app.get(
    '/api/v1/connections',
    {
      config: read,
      schema: {
        tags: ['connections'],
        summary: 'Data sources of your tenant',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(ConnectionSchema), ...authErrors },
      },
    },
    async (request) =>
      listTenantConnections(deps, requirePrincipal(request.principal), {
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
      }),
  );

  app.post(
    '/api/v1/connections',
    {
      config: write,
      schema: {
        tags: ['connections'],
        summary: 'Add a PostgreSQL, MySQL/MariaDB or SQLite connection',
        body: CreateBody,
        response: { 201: ConnectionSchema, 422: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await createTenantConnection(
            deps,
            requirePrincipal(request.principal),
            request.origin,
            request.body,
          ),
        ),
  );

  app.post(
    '/api/v1/connections/test',
    {
      config: write,
      schema: {
        tags: ['connections'],
        summary: 'Test settings before saving them: server version and latency, or the exact error',
        body: Type.Object(
          {
            type: Type.Union([Type.Literal('postgres'), Type.Literal('mysql'), Type.Literal('sqlite')]),
            config: ConfigInput,
          },
          { additionalProperties: false },
        ),
        response: { 200: TestResult, 422: ProblemSchema, ...authErrors },
      },
    },
    async (request) => testUnsavedConnection(deps, request.body),
  );

  app.get(
    '/api/v1/connections/:id',
    {
      config: { ...read, resource: 'connection' },
      schema: {
        tags: ['connections'],
        summary: 'One connection (never its password)',
        params: IdParams,
        response: { 200: ConnectionSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getTenantConnection(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.patch(
    '/api/v1/connections/:id',
    {
      config: { ...write, resource: 'connection' },
      schema: {
        tags: ['connections'],
        summary: 'Rename or change settings (omit password to keep it)',
        params: IdParams,
        body: PatchBody,
        response: {
          200: ConnectionSchema,
          404: ProblemSchema,
          409: ProblemSchema,
          422: ProblemSchema,
          ...authErrors,
        },
      },
    },
    async (request) =>
      updateTenantConnection(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body,
      ),
  );

  app.delete(
    '/api/v1/connections/:id',
    {
      config: { ...write, resource: 'connection' },
      schema: {
        tags: ['connections'],
        summary: 'Delete a connection no report uses',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await deleteTenantConnection(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/connections/:id/test',
    {
      config: { ...read, resource: 'connection' },
      schema: {
        tags: ['connections'],
        summary: 'Connect and report server version and latency, or the exact error',
        params: IdParams,
        response: { 200: TestResult, 404: ProblemSchema, 422: ProblemSchema, ...authErrors },
      },
    },
    async (request) =>
      testSavedConnection(deps, requirePrincipal(request.principal), request.origin, request.params.id),
  );

  app.get(
    '/api/v1/connections/:id/schema',
    {
      config: { ...read, resource: 'connection' },
      schema: {
        tags: ['connections'],
        summary: 'Tables and views with their columns and types (cached; ?refresh=true reads again)',
        params: IdParams,
        querystring: Type.Object({ refresh: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: SchemaResult, 404: ProblemSchema, 422: ProblemSchema, ...authErrors },
      },
    },
    async (request) =>
      connectionSchema(
        deps,
        requirePrincipal(request.principal),
        request.params.id,
        request.query.refresh === true,
      ),
  );
}
