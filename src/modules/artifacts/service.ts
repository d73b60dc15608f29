import type { Deps } from '../deps.ts';
import { listExpiredArtifacts, markArtifactDeleted } from './repo.ts';

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
  if (deleted > 0 || unfinished > 0)
    deps.log.info({ deleted, unfinished }, 'deleted expired and unfinished files');
  return deleted;
}
