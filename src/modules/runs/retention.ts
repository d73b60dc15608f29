import type { Deps } from '../deps.ts';
import { deleteFinishedRunsBefore } from './repo.ts';

// S13: run history is kept for FERRY_RUN_RETENTION_DAYS (default 90), then
// deleted in batches with its files. Only finished runs: queued and running
// work is never touched.

const BATCH = 1_000;

export async function deleteOldRuns(deps: Deps): Promise<number> {
  let total = 0;
  for (;;) {
    const keys = await deleteFinishedRunsBefore(deps.db, deps.config.runRetentionDays, BATCH);
    // Rows first, then files: a crash in between leaves an orphan file for the sweep, never a row without its file.
    for (const { key } of keys) if (key) await deps.storage.remove(key);
    const deleted = keys.filter((k) => k.key === null).length;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}
