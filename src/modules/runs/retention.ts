import type { Deps } from '../deps.ts';

// S13: run history is kept for FERRY_RUN_RETENTION_DAYS (default 90), then
// deleted in batches with its files. Only finished runs: queued and running
// work is never touched.

const BATCH = 1_000;

export async function deleteOldRuns(deps: Deps): Promise<number> {
  let total = 0;
  for (;;) {
    const keys = await deps.db.transaction(async (tx) => {
      const r = await tx.query<{ key: string | null }>(
        `WITH old AS (
           SELECT r.id FROM runs r
            WHERE r.finished_at < ferry_now() - make_interval(days => $1)
              AND r.status NOT IN ('queued', 'running')
            ORDER BY r.finished_at LIMIT $2
            FOR UPDATE SKIP LOCKED
         ), files AS (
           SELECT a.key FROM artifacts a JOIN old ON old.id = a.run_id WHERE a.deleted_at IS NULL
         ), gone AS (
           DELETE FROM runs r USING old WHERE r.id = old.id RETURNING r.id
         )
         SELECT files.key FROM files UNION ALL SELECT NULL FROM gone`,
        [deps.config.runRetentionDays, BATCH],
      );
      return r.rows;
    });
    // Rows first, then files: a crash in between leaves an orphan file for the sweep, never a row without its file.
    for (const { key } of keys) if (key) await deps.storage.remove(key);
    const deleted = keys.filter((k) => k.key === null).length;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}
