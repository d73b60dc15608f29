import { createHash } from 'node:crypto';
import { Conflict, Invalid, Unprocessable } from '../../lib/errors.ts';
import type { Deps } from '../deps.ts';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteIdempotencyKeysBefore,
  getIdempotencyKey,
  reclaimAbandonedKey,
  releaseIdempotencyKey,
} from './repo.ts';

// Stored answers are kept 24 hours. A claim with no answer after a minute belongs to
// a request whose process died; the next retry may take it over.
const RETENTION_MS = 24 * 3_600_000;
const ABANDONED_AFTER_MS = 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type IdempotencyOutcome = { kind: 'proceed' } | { kind: 'replay'; status: number; body: string };

export function hashRequest(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n`)
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

export async function beginIdempotentRequest(
  deps: Deps,
  tenantId: string,
  key: string,
  request: { method: string; path: string; body: unknown },
): Promise<IdempotencyOutcome> {
  if (!KEY_PATTERN.test(key))
    throw Invalid.field('Idempotency-Key', 'must be 1 to 255 printable ASCII characters');
  const requestHash = hashRequest(request.method, request.path, request.body);
  const now = deps.clock.now();
  const claim = { tenantId, key, method: request.method, path: request.path, requestHash, now };
  if (await claimIdempotencyKey(deps.db, claim)) return { kind: 'proceed' };
  const existing = await getIdempotencyKey(deps.db, tenantId, key);
  if (!existing) {
    // Expired and removed between the two statements: claim it afresh.
    if (await claimIdempotencyKey(deps.db, claim)) return { kind: 'proceed' };
    throw new Conflict('A request with this Idempotency-Key is in progress; retry shortly');
  }
  if (existing.request_hash !== requestHash) {
    throw new Unprocessable('This Idempotency-Key was already used for a different request', [
      { path: 'Idempotency-Key', message: 'was used with a different method, path or body' },
    ]);
  }
  if (existing.status_code === null || existing.response_body === null) {
    const staleBefore = new Date(now.getTime() - ABANDONED_AFTER_MS);
    if (await reclaimAbandonedKey(deps.db, tenantId, key, staleBefore, now)) return { kind: 'proceed' };
    throw new Conflict('A request with this Idempotency-Key is in progress; retry shortly');
  }
  const body = deps.secrets.decrypt(existing.response_body, `idempotency:${tenantId}:${key}`);
  return { kind: 'replay', status: existing.status_code, body };
}

export async function finishIdempotentRequest(
  deps: Deps,
  tenantId: string,
  key: string,
  status: number,
  body: string,
): Promise<void> {
  // Only successes are kept: a client may fix a rejected request and retry with the same key.
  if (status >= 200 && status < 300) {
    await completeIdempotencyKey(
      deps.db,
      tenantId,
      key,
      status,
      deps.secrets.encrypt(body, `idempotency:${tenantId}:${key}`),
    );
  } else {
    await releaseIdempotencyKey(deps.db, tenantId, key);
  }
}

/** The `idempotency.cleanup` job. */
export async function cleanupIdempotencyKeys(deps: Pick<Deps, 'db' | 'clock' | 'log'>): Promise<number> {
  const deleted = await deleteIdempotencyKeysBefore(
    deps.db,
    new Date(deps.clock.now().getTime() - RETENTION_MS),
  );
  if (deleted > 0) deps.log.info({ deleted }, 'removed expired idempotency keys');
  return deleted;
}
