import type { Deps } from '../../modules/deps.ts';
import { beginIdempotentRequest, finishIdempotentRequest } from '../../modules/idempotency/service.ts';
import type { App } from '../types.ts';

const HEADER = 'idempotency-key';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey: string | null;
  }
}

/** `Idempotency-Key` on authenticated POSTs: the first answer is stored and replayed to retries. */
export function registerIdempotency(app: App, deps: Deps): void {
  app.decorateRequest('idempotencyKey', null);

  // Runs after authentication and validation (both are earlier hooks/phases).
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers[HEADER];
    if (request.method !== 'POST' || typeof key !== 'string' || !request.principal) return;
    const path = request.url.split('?')[0]!;
    const outcome = await beginIdempotentRequest(deps, request.principal.tenantId, key, {
      method: request.method,
      path,
      body: request.body,
    });
    if (outcome.kind === 'replay') {
      return reply
        .code(outcome.status)
        .header('idempotent-replayed', 'true')
        .type('application/json; charset=utf-8')
        .send(outcome.body);
    }
    request.idempotencyKey = key;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (key === null || !request.principal) return payload;
    request.idempotencyKey = null;
    await finishIdempotentRequest(
      deps,
      request.principal.tenantId,
      key,
      reply.statusCode,
      typeof payload === 'string' ? payload : '',
    );
    return payload;
  });
}
