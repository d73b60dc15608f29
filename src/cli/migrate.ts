import { openDatabase } from '../app/database.ts';
import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { createQueue } from '../jobs/queue.ts';
import { createCommandLogger } from '../lib/log.ts';

/** `ferry migrate`: Ferry's migrations, then the queue's own schema. */
export async function runMigrate(overrides: {
  port?: number | undefined;
  dataDir?: string | undefined;
}): Promise<number> {
  const config = loadConfig(process.env, overrides);
  const log = createCommandLogger(config.logLevel);
  const database = await openDatabase(config, log, 'ferry-migrate');
  try {
    const result = await migrate(database.db);
    const queue = createQueue({
      roles: new Set(),
      log,
      databaseUrl: database.url,
      poolMax: 1,
    });
    await queue.start();
    await queue.stop();
    process.stdout.write(
      result.applied.length > 0
        ? `Applied ${result.applied.join(', ')}; the database is at migration ${result.current}.\n`
        : `The database is up to date (migration ${result.current}).\n`,
    );
    return 0;
  } finally {
    await database.release();
  }
}
