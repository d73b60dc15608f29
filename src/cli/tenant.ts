import { openDatabase } from '../app/database.ts';
import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { systemClock } from '../lib/clock.ts';
import { isAppError } from '../lib/errors.ts';
import { createCommandLogger } from '../lib/log.ts';
import { isSetupOpen, removeSetupTokenFile } from '../modules/setup/service.ts';
import { createTenantWithOwner } from '../modules/tenants/service.ts';
import { UsageError } from './usage.ts';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** `ferry tenant create`: a tenant and its owner, straight in the database. */
export async function runTenantCreate(
  overrides: { port?: number | undefined; dataDir?: string | undefined },
  args: {
    name: string | undefined;
    email: string | undefined;
    password: string | undefined;
    ownerName: string | undefined;
    json: boolean;
  },
): Promise<number> {
  const problems: string[] = [];
  if (!args.name?.trim()) problems.push('--name is required');
  if (!args.email || !EMAIL.test(args.email)) problems.push('--email must be an e-mail address');
  if (args.password !== undefined && args.password.length < 8)
    problems.push('--password must be at least 8 characters');
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  const config = loadConfig(process.env, overrides);
  const log = createCommandLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const database = await openDatabase(config, log, 'ferry-cli');
  try {
    await migrate(database.db);
    const result = await database.db.transaction(async (tx) => {
      const isFirstUser = await isSetupOpen(tx);
      return createTenantWithOwner(
        tx,
        { clock: systemClock },
        { tenantName: args.name!, email: args.email!, password: args.password, ownerName: args.ownerName },
        { kind: 'cli' },
        { isFirstUser },
      );
    });
    await removeSetupTokenFile(config.dataDir);
    const out = { tenantId: result.tenantId, userId: result.userId, apiKey: result.apiKey };
    process.stdout.write(
      args.json
        ? `${JSON.stringify(out)}\n`
        : `Created tenant ${result.tenantId} with owner ${args.email}.\nAPI key (shown once): ${result.apiKey}\n`,
    );
    return 0;
  } catch (err) {
    if (isAppError(err)) {
      process.stderr.write(`ferry: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    await database.release();
  }
}
