import { Type } from 'typebox';
import { NotFound } from '../../lib/errors.ts';
import { Email, Password, ProblemSchema } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { isSetupOpen, runSetup } from './service.ts';

const SetupBody = Type.Object(
  {
    setupToken: Type.String({ minLength: 1, maxLength: 200 }),
    tenantName: Type.String({ minLength: 1, maxLength: 200 }),
    email: Email,
    password: Password,
    name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const SetupResult = Type.Object({ tenantId: Type.String(), userId: Type.String(), apiKey: Type.String() });

export function registerSetupRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/setup',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['setup'],
        summary: 'Whether first-run setup is still open (404 once a user exists)',
        response: { 200: Type.Object({ required: Type.Boolean() }), 404: ProblemSchema },
      },
    },
    async () => {
      if (!(await isSetupOpen(deps.db))) throw new NotFound('Setup');
      return { required: true };
    },
  );

  app.post(
    '/api/v1/setup',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['setup'],
        summary: 'Create the first tenant, its owner (an instance admin) and an owner API key',
        body: SetupBody,
        response: {
          201: SetupResult,
          400: ProblemSchema,
          403: ProblemSchema,
          404: ProblemSchema,
          429: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const result = await runSetup(deps, {
        setupToken: b.setupToken,
        tenantName: b.tenantName,
        email: b.email,
        password: b.password,
        ownerName: b.name,
      });
      return reply
        .code(201)
        .send({ tenantId: result.tenantId, userId: result.userId, apiKey: result.apiKey });
    },
  );
}
