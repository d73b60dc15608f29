import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executor } from '../../db/db.ts';
import { Forbidden, NotFound } from '../../lib/errors.ts';
import { type SecretBox, safeEqual } from '../../lib/secrets.ts';
import type { Deps } from '../deps.ts';
import { createTenantWithOwner, type NewTenantInput, type NewTenantResult } from '../tenants/service.ts';
import { countUsers } from '../users/repo.ts';

// The first-run setup token is derived from the instance secret, so every Ferry
// process on the same database prints the same token without storing it. It stops
// working the moment the first user exists.

const SETUP_LOCK_KEY = 0x7365747570; // "setup"
export const SETUP_TOKEN_FILE = 'setup-token';

export function setupToken(secrets: SecretBox): string {
  return secrets.sign('setup-token', 'v1').toString('base64url').slice(0, 32);
}

export async function isSetupOpen(db: Executor): Promise<boolean> {
  return (await countUsers(db)) === 0;
}

export async function writeSetupTokenFile(dataDir: string, token: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, SETUP_TOKEN_FILE);
  // Atomically: a reader sees no file or the whole token, never a part of it.
  const partial = `${path}.${process.pid}.tmp`;
  await writeFile(partial, `${token}\n`, { mode: 0o600 });
  await rename(partial, path);
  return path;
}

export async function removeSetupTokenFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, SETUP_TOKEN_FILE), { force: true });
}

export async function runSetup(
  deps: Deps,
  input: NewTenantInput & { setupToken: string },
): Promise<NewTenantResult> {
  if (!(await isSetupOpen(deps.db))) throw new NotFound('Setup');
  if (!safeEqual(input.setupToken, setupToken(deps.secrets))) {
    throw new Forbidden(
      'The setup token is not valid: use the one printed at start-up or stored in the data directory',
    );
  }
  const result = await deps.db.transaction(async (tx) => {
    // Two setups racing: the second waits here, then finds a user and stops.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK_KEY]);
    if (!(await isSetupOpen(tx))) throw new NotFound('Setup');
    return createTenantWithOwner(tx, deps, input, { kind: 'setup' }, { isFirstUser: true });
  });
  await removeSetupTokenFile(deps.config.dataDir);
  return result;
}
