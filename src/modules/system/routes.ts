import { Type } from 'typebox';
import { migrationState } from '../../db/migrate.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';

export function registerSystemRoutes(app: App, deps: Deps): void {
  app.get(
    '/healthz',
    {
      config: { auth: 'public', rateLimit: false },
      schema: {
        tags: ['system'],
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { auth: 'public', rateLimit: false },
      schema: {
        tags: ['system'],
        summary: 'Readiness: the database answers and every migration is applied',
        description:
          '`demo` says whether the demo dataset can be read yet: on a first start Ferry is ready before the demo data is built (a few seconds); queries on the demo connection meanwhile wait for it.',
        response: {
          200: Type.Object({
            status: Type.String(),
            migration: Type.Integer(),
            demo: Type.Optional(
              Type.Union([Type.Literal('preparing'), Type.Literal('ready'), Type.Literal('failed')]),
            ),
          }),
          503: Type.Object({ status: Type.String(), detail: Type.String() }),
        },
      },
    },
    async (_request, reply) => {
      try {
        const state = await migrationState(deps.db);
        if (!state.isUpToDate) {
          return reply.code(503).send({
            status: 'unavailable',
            detail: `database at migration ${state.current} of ${state.latest}`,
          });
        }
        return {
          status: 'ready',
          migration: state.current,
          ...(deps.demo ? { demo: deps.demo.state } : {}),
        };
      } catch (err) {
        deps.log.warn({ err }, 'readiness check failed');
        return reply.code(503).send({ status: 'unavailable', detail: 'database unreachable' });
      }
    },
  );
}
