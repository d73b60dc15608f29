import type { Executor } from '../../db/db.ts';

export interface IdempotencyRow {
  request_hash: string;
  status_code: number | null;
  response_body: string | null;
  created_at: Date;
}

/** Claims a key for a new request; false when the key is already taken. */
export async function claimIdempotencyKey(
  db: Executor,
  k: { tenantId: string; key: string; method: string; path: string; requestHash: string; now: Date },
): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO idempotency_keys (tenant_id, key, method, path, request_hash, created_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, key) DO NOTHING`,
    [k.tenantId, k.key, k.method, k.path, k.requestHash, k.now],
  );
  return r.rowCount > 0;
}

export async function getIdempotencyKey(
  db: Executor,
  tenantId: string,
  key: string,
): Promise<IdempotencyRow | undefined> {
  const r = await db.query<IdempotencyRow>(
    'SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2',
    [tenantId, key],
  );
  return r.rows[0];
}

/** Takes over a claim whose request never finished (the process died), if it is still unfinished. */
export async function reclaimAbandonedKey(
  db: Executor,
  tenantId: string,
  key: string,
  staleBefore: Date,
  now: Date,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE idempotency_keys SET created_at = $4 WHERE tenant_id = $1 AND key = $2 AND status_code IS NULL AND created_at < $3`,
    [tenantId, key, staleBefore, now],
  );
  return r.rowCount > 0;
}

export async function completeIdempotencyKey(
  db: Executor,
  tenantId: string,
  key: string,
  status: number,
  body: string,
): Promise<void> {
  await db.query(
    'UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE tenant_id = $1 AND key = $2',
    [tenantId, key, status, body],
  );
}

export async function releaseIdempotencyKey(db: Executor, tenantId: string, key: string): Promise<void> {
  await db.query('DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND status_code IS NULL', [
    tenantId,
    key,
  ]);
}

export async function deleteIdempotencyKeysBefore(db: Executor, before: Date): Promise<number> {
  const r = await db.query('DELETE FROM idempotency_keys WHERE created_at < $1', [before]);
  return r.rowCount;
}
