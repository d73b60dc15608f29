import type { Deps } from '../../modules/deps.ts';
import {
  beginIdempotentRequest,
  finishIdempotentRequest,
  type IdempotencyCaller,
  idempotencyCaller,
} from '../../modules/idempotency/service.ts';
import type { App } from '../types.ts';

const HEADER = 'idempotency-key';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while a claimed request runs: its key and the caller it was claimed for. */
    idempotency: { key: string; caller: IdempotencyCaller } | null;
  }
}

/**
 * `Idempotency-Key` on authenticated POSTs: the first answer is stored and replayed
 * to the same caller's retries. Each caller (user or API key) has keys of its own.
 */
export function registerIdempotency(app: App, deps: Deps): void {
  app.decorateRequest('idempotency', null);

  // Runs after authentication and validation (both are earlier hooks/phases).
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers[HEADER];
    if (request.method !== 'POST' || typeof key !== 'string' || !request.principal) return;
    const caller = idempotencyCaller(request.principal);
    const outcome = await beginIdempotentRequest(deps, caller, key, {
      method: request.method,
      path: request.url.split('?')[0]!,
      body: request.body,
    });
    if (outcome.kind === 'replay') {
      return reply
        .code(outcome.status)
        .header('idempotent-replayed', 'true')
        .type('application/json; charset=utf-8')
        .send(outcome.body);
    }
    request.idempotency = { key, caller };
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const claimed = request.idempotency;
    if (claimed === null) return payload;
    request.idempotency = null;
    await finishIdempotentRequest(
      deps,
      claimed.caller,
      claimed.key,
      reply.statusCode,
      typeof payload === 'string' ? payload : '',
    );
    return payload;
  });
}
