import { createHash } from 'node:crypto';
import { Conflict, Invalid, Unprocessable } from '../../lib/errors.ts';
import type { Principal } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteIdempotencyKeysBefore,
  getIdempotencyKey,
  type IdempotencyRef,
  reclaimAbandonedKey,
  releaseIdempotencyKey,
} from './repo.ts';

// Stored answers are kept 24 hours. A claim with no answer after a minute belongs to
// a request whose process died; the next retry may take it over.
const RETENTION_MS = 24 * 3_600_000;
const ABANDONED_AFTER_MS = 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export type IdempotencyOutcome = { kind: 'proceed' } | { kind: 'replay'; status: number; body: string };

/**
 * Whom a record belongs to. Keys are the caller's own namespace: a signed-in user
 * (across their sessions) or one API key, never the whole tenant, so another
 * caller's key is simply a new request for them. `access` is what the caller
 * could do when the request was made; a stored answer is replayed only while the
 * caller still has exactly that access (a demoted owner must not receive the
 * owner key it created before).
 */
export interface IdempotencyCaller {
  tenantId: string;
  principal: string;
  access: string;
}

export function idempotencyCaller(p: Principal): IdempotencyCaller {
  return {
    tenantId: p.tenantId,
    principal: p.kind === 'api_key' ? `api_key:${p.apiKeyId}` : `user:${p.userId}`,
    access: p.isInstanceAdmin ? `${p.role}+instance-admin` : p.role,
  };
}

export function hashRequest(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n`)
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

function refOf(caller: IdempotencyCaller, key: string): IdempotencyRef {
  return { tenantId: caller.tenantId, principal: caller.principal, key };
}

// The stored body is encrypted under a context naming its owner: it cannot be
// decrypted as anyone else's record.
function cipherContext(ref: IdempotencyRef): string {
  return `idempotency:${ref.tenantId}:${ref.principal}:${ref.key}`;
}

function reuseRefused(message: string): Unprocessable {
  return new Unprocessable(`This Idempotency-Key was already used ${message}; send a new key`, [
    { path: 'Idempotency-Key', message: `was used ${message}` },
  ]);
}

export async function beginIdempotentRequest(
  deps: Pick<Deps, 'db' | 'clock' | 'secrets'>,
  caller: IdempotencyCaller,
  key: string,
  request: { method: string; path: string; body: unknown },
): Promise<IdempotencyOutcome> {
  if (!KEY_PATTERN.test(key))
    throw Invalid.field('Idempotency-Key', 'must be 1 to 255 printable ASCII characters');
  const ref = refOf(caller, key);
  const requestHash = hashRequest(request.method, request.path, request.body);
  const now = deps.clock.now();
  const claim = { access: caller.access, method: request.method, path: request.path, requestHash, now };
  if (await claimIdempotencyKey(deps.db, ref, claim)) return { kind: 'proceed' };
  const existing = await getIdempotencyKey(deps.db, ref);
  if (!existing) {
    // Expired and removed between the two statements: claim it afresh.
    if (await claimIdempotencyKey(deps.db, ref, claim)) return { kind: 'proceed' };
    throw new Conflict('A request with this Idempotency-Key is in progress; retry shortly');
  }
  if (existing.request_hash !== requestHash) throw reuseRefused('for a different method, path or body');
  if (existing.principal_access !== caller.access) throw reuseRefused('while you had a different role');
  if (existing.status_code === null || existing.response_body === null) {
    const staleBefore = new Date(now.getTime() - ABANDONED_AFTER_MS);
    if (await reclaimAbandonedKey(deps.db, ref, staleBefore, now)) return { kind: 'proceed' };
    throw new Conflict('A request with this Idempotency-Key is in progress; retry shortly');
  }
  const body = deps.secrets.decrypt(existing.response_body, cipherContext(ref));
  return { kind: 'replay', status: existing.status_code, body };
}

export async function finishIdempotentRequest(
  deps: Pick<Deps, 'db' | 'clock' | 'secrets'>,
  caller: IdempotencyCaller,
  key: string,
  status: number,
  body: string,
): Promise<void> {
  const ref = refOf(caller, key);
  // Only successes are kept: a client may fix a rejected request and retry with the same key.
  if (status >= 200 && status < 300) {
    await completeIdempotencyKey(deps.db, ref, status, deps.secrets.encrypt(body, cipherContext(ref)));
  } else {
    await releaseIdempotencyKey(deps.db, ref);
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
