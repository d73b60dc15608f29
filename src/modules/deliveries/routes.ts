import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, ProblemSchema } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { retryDelivery } from './service.ts';

export function registerDeliveryRoutes(app: App, deps: Deps): void {
  app.post(
    '/api/v1/runs/:id/deliveries/:deliveryId/retry',
    {
      config: { auth: { permission: 'runs:write' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary:
          'Deliver a run’s file again to one destination whose delivery failed (the file is not made again)',
        params: Type.Object({
          id: Type.String({ format: 'uuid' }),
          deliveryId: Type.String({ format: 'uuid' }),
        }),
        response: {
          202: Type.Object({ deliveryId: Type.String(), status: Type.String() }),
          404: ProblemSchema,
          409: ProblemSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const d = await retryDelivery(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.params.deliveryId,
      );
      return reply.code(202).send({ deliveryId: d.id, status: d.status });
    },
  );
}
