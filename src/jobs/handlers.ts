import type { Deps } from '../modules/deps.ts';
import { cleanupIdempotencyKeys } from '../modules/idempotency/service.ts';
import { cleanupSessions } from '../modules/sessions/service.ts';
import type { Queue } from './queue.ts';

/** Starts the worker side: one handler per job name. */
export async function registerJobHandlers(queue: Queue, deps: Deps): Promise<void> {
  await queue.work('sessions.cleanup', async () => ({ deleted: await cleanupSessions(deps) }));
  await queue.work('idempotency.cleanup', async () => ({ deleted: await cleanupIdempotencyKeys(deps) }));
}
