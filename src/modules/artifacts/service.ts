import type { Deps } from '../deps.ts';
import { listExpiredArtifacts, liveArtifactKeys, markArtifactDeleted } from './repo.ts';

/** The `artifacts.cleanup` job: deletes files past their expiry (S13); run history stays. */
export async function cleanupArtifacts(
  deps: Pick<Deps, 'db' | 'clock' | 'log' | 'storage'>,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const expired = await listExpiredArtifacts(deps.db, deps.clock.now(), 200);
    for (const artifact of expired) {
      await deps.storage.remove(artifact.key);
      await markArtifactDeleted(deps.db, artifact.id, deps.clock.now());
      deleted++;
    }
    if (expired.length < 200) break;
  }
  // A worker killed mid-write leaves its temporary file; after a day no attempt is still writing it.
  const unfinished = await deps.storage.sweepUnfinished(86_400_000).catch((err: unknown) => {
    deps.log.warn(
      { err: { message: (err as Error).message } },
      'could not sweep unfinished uploads; on S3 add a lifecycle rule that aborts incomplete multipart uploads',
    );
    return 0;
  });
  const orphans = await removeOrphanFiles(deps, 86_400_000);
  if (deleted > 0 || unfinished > 0 || orphans > 0)
    deps.log.info({ deleted, unfinished, orphans }, 'deleted expired, unfinished and orphaned files');
  return deleted;
}

const FERRY_KEY =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/\d+\/[^/]+$/;

/**
 * Files no artifact points at: a worker that died between publishing the file
 * and recording it, or a deleted run whose file removal was interrupted (rows go
 * first, files second). Only files older than `olderThanMs`, so an attempt that
 * is finishing right now is never touched.
 */
export async function removeOrphanFiles(
  deps: Pick<Deps, 'db' | 'log' | 'storage'>,
  olderThanMs: number,
): Promise<number> {
  let removed = 0;
  try {
    for await (const keys of deps.storage.listCommitted(olderThanMs)) {
      const live = await liveArtifactKeys(deps.db, keys);
      for (const key of keys) {
        // Only Ferry's own key shape: a bucket prefix shared with other data loses nothing.
        if (live.has(key) || !FERRY_KEY.test(key)) continue;
        await deps.storage.remove(key);
        removed++;
      }
    }
  } catch (err) {
    deps.log.warn({ err: { message: (err as Error).message } }, 'could not sweep orphaned files');
  }
  return removed;
}
