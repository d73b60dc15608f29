import type { Executor } from '../../db/db.ts';

export interface ArtifactRow {
  id: string;
  tenant_id: string;
  run_id: string;
  storage: string;
  key: string;
  file_name: string;
  content_type: string;
  size: string;
  checksum: string;
  created_at: Date;
  expires_at: Date;
  deleted_at: Date | null;
}

export async function insertArtifact(
  db: Executor,
  a: {
    id: string;
    tenantId: string;
    runId: string;
    storage: string;
    key: string;
    fileName: string;
    contentType: string;
    size: number;
    checksum: string;
    now: Date;
    expiresAt: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO artifacts (id, tenant_id, run_id, storage, key, file_name, content_type, size, checksum, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      a.id,
      a.tenantId,
      a.runId,
      a.storage,
      a.key,
      a.fileName,
      a.contentType,
      a.size,
      a.checksum,
      a.now,
      a.expiresAt,
    ],
  );
}

export async function getArtifactForRun(
  db: Executor,
  tenantId: string,
  runId: string,
): Promise<ArtifactRow | undefined> {
  const r = await db.query<ArtifactRow>('SELECT * FROM artifacts WHERE tenant_id = $1 AND run_id = $2', [
    tenantId,
    runId,
  ]);
  return r.rows[0];
}

export async function listExpiredArtifacts(db: Executor, now: Date, limit: number): Promise<ArtifactRow[]> {
  const r = await db.query<ArtifactRow>(
    'SELECT * FROM artifacts WHERE deleted_at IS NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2',
    [now, limit],
  );
  return r.rows;
}

/** Of the given storage keys, those that a live artifact row points at. */
export async function liveArtifactKeys(db: Executor, keys: string[]): Promise<Set<string>> {
  const r = await db.query<{ key: string }>(
    'SELECT key FROM artifacts WHERE key = ANY($1::text[]) AND deleted_at IS NULL',
    [keys],
  );
  return new Set(r.rows.map((row) => row.key));
}

export async function markArtifactDeleted(db: Executor, id: string, now: Date): Promise<void> {
  await db.query('UPDATE artifacts SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL', [id, now]);
}

export async function insertDownload(
  db: Executor,
  d: {
    tenantId: string;
    runId: string;
    via: 'api' | 'link';
    actorType: string | null;
    actorId: string | null;
    ip: string | null;
    userAgent: string | null;
    range: string | null;
    now: Date;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO downloads (tenant_id, run_id, via, actor_type, actor_id, ip, user_agent, range, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [d.tenantId, d.runId, d.via, d.actorType, d.actorId, d.ip, d.userAgent, d.range, d.now],
  );
}

export interface DownloadRow {
  via: string;
  actor_type: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  range: string | null;
  created_at: Date;
}

export async function listDownloads(db: Executor, tenantId: string, runId: string): Promise<DownloadRow[]> {
  const r = await db.query<DownloadRow>(
    'SELECT via, actor_type, actor_id, ip, user_agent, range, created_at FROM downloads WHERE tenant_id = $1 AND run_id = $2 ORDER BY id DESC LIMIT 100',
    [tenantId, runId],
  );
  return r.rows;
}
