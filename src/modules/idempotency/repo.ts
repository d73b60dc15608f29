import type { Executor } from '../../db/db.ts';

/** Whose record: the tenant, the caller in it ('user:<id>' or 'api_key:<id>') and the caller's key. */
export interface IdempotencyRef {
  tenantId: string;
  principal: string;
  key: string;
}

export interface IdempotencyRow {
  request_hash: string;
  principal_access: string;
  status_code: number | null;
  response_body: string | null;
  created_at: Date;
}

const WHERE_REF = 'tenant_id = $1 AND principal = $2 AND key = $3';
const refParams = (r: IdempotencyRef) => [r.tenantId, r.principal, r.key];

/** Claims a key for a new request; false when the caller already used it. */
export async function claimIdempotencyKey(
  db: Executor,
  ref: IdempotencyRef,
  k: { access: string; method: string; path: string; requestHash: string; now: Date },
): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO idempotency_keys (tenant_id, principal, key, principal_access, method, path, request_hash, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, principal, key) DO NOTHING`,
    [...refParams(ref), k.access, k.method, k.path, k.requestHash, k.now],
  );
  return r.rowCount > 0;
}

export async function getIdempotencyKey(
  db: Executor,
  ref: IdempotencyRef,
): Promise<IdempotencyRow | undefined> {
  const r = await db.query<IdempotencyRow>(
    `SELECT request_hash, principal_access, status_code, response_body, created_at FROM idempotency_keys WHERE ${WHERE_REF}`,
    refParams(ref),
  );
  return r.rows[0];
}

/** Takes over a claim whose request never finished (the process died), if it is still unfinished. */
export async function reclaimAbandonedKey(
  db: Executor,
  ref: IdempotencyRef,
  staleBefore: Date,
  now: Date,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE idempotency_keys SET created_at = $5 WHERE ${WHERE_REF} AND status_code IS NULL AND created_at < $4`,
    [...refParams(ref), staleBefore, now],
  );
  return r.rowCount > 0;
}

export async function completeIdempotencyKey(
  db: Executor,
  ref: IdempotencyRef,
  status: number,
  body: string,
): Promise<void> {
  await db.query(`UPDATE idempotency_keys SET status_code = $4, response_body = $5 WHERE ${WHERE_REF}`, [
    ...refParams(ref),
    status,
    body,
  ]);
}

export async function releaseIdempotencyKey(db: Executor, ref: IdempotencyRef): Promise<void> {
  await db.query(`DELETE FROM idempotency_keys WHERE ${WHERE_REF} AND status_code IS NULL`, refParams(ref));
}

export async function deleteIdempotencyKeysBefore(db: Executor, before: Date): Promise<number> {
  const r = await db.query('DELETE FROM idempotency_keys WHERE created_at < $1', [before]);
  return r.rowCount;
}
