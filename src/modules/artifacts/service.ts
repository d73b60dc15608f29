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
  if (deleted > 0) deps.log.info({ deleted }, 'deleted expired files');
  return deleted;
}
