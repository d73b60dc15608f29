import { openDatabase, prepareDemo } from '../app/database.ts';
import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { demoSizes } from '../demo/dataset.ts';
import { createCommandLogger } from '../lib/log.ts';
import { UsageError } from './usage.ts';

/** `ferry demo --rows N`: rebuilds the demo dataset with N sales order lines. */
export async function runDemo(
  overrides: { port?: number | undefined; dataDir?: string | undefined },
  rowsFlag: string | undefined,
): Promise<number> {
  const rows = rowsFlag === undefined ? undefined : Number(rowsFlag);
  if (rows !== undefined && (!Number.isSafeInteger(rows) || rows < 100 || rows > 100_000_000)) {
    throw new UsageError(`--rows must be a whole number from 100 to 100000000 (got "${rowsFlag}")`);
  }
  const config = loadConfig(process.env, overrides);
  const log = createCommandLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const database = await openDatabase(config, log, 'ferry-demo');
  try {
    await migrate(database.db);
    const target = rows ?? config.demoRows;
    process.stdout.write(`Building the demo dataset with ${target} sales lines…\n`);
    const result = await prepareDemo(database.demo, target, log, true);
    const sizes = demoSizes(target);
    process.stdout.write(
      `Done in ${(result.ms / 1000).toFixed(1)} s: ${sizes.customers} customers, ${sizes.orders} orders, ${sizes.lines} order lines, ${sizes.usageEvents} usage events, ${sizes.journalEntries} journal entries.\n`,
    );
    return 0;
  } finally {
    await database.release();
  }
}
