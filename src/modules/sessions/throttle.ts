import { RateLimited } from '../../lib/errors.ts';
import type { Deps } from '../deps.ts';
import {
  deleteStaleThrottles,
  isFamiliarScope,
  lockThrottleRow,
  saveThrottleFailure,
  saveThrottleSuccess,
} from './repo.ts';

// Per-account sign-in throttle, kept in the database so every API process
// enforces the same count (the per-address limit lives in each process).
//
// The account is the e-mail as typed, whether or not an account has it, so a
// refusal does not reveal which addresses exist. FREE_FAILURES wrong passwords in
// a row pass unhindered; after that each failure makes the next attempt wait,
// doubling from FIRST_DELAY up to MAX_DELAY, and attempts during the wait are
// refused unchecked (429 with Retry-After).
//
// So that strangers cannot keep the owner out by guessing at every expiry, an
// address the account signed in from before keeps a count of its own: failures
// from elsewhere never delay it. The right password clears its count.

const FREE_FAILURES = 5;
const FIRST_DELAY_S = 30;
const MAX_DELAY_S = 15 * 60;
// A count with no new failure for this long starts over.
const FAILURE_MEMORY_MS = 24 * 3_600_000;
// An address stays familiar this long after a successful sign-in from it.
const FAMILIAR_FOR_MS = 90 * 86_400_000;
const ANY_ADDRESS = '*';

/** One admitted attempt, counted as a failure until the password proves otherwise. */
export interface SignInAttempt {
  email: string;
  ip: string | null;
  scope: string;
  failures: number;
  /** How long the next attempt must wait if this one fails (0: no wait). */
  delaySeconds: number;
}

/** The wait imposed after `failures` wrong passwords in a row, in seconds. */
export function delayAfter(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(FIRST_DELAY_S * 2 ** (failures - FREE_FAILURES), MAX_DELAY_S);
}

function addressScope(ip: string | null): string | null {
  return ip ? `ip:${ip}` : null;
}

/**
 * Admits a sign-in attempt or refuses it with 429 while the account must wait.
 * The attempt is counted as a failure before the password is checked, under a row
 * lock, so parallel guesses cannot all pass before the first failure is recorded.
 */
export async function admitSignIn(deps: Deps, email: string, ip: string | null): Promise<SignInAttempt> {
  const now = deps.clock.now();
  return deps.db.transaction(async (tx) => {
    const own = addressScope(ip);
    const familiarSince = new Date(now.getTime() - FAMILIAR_FOR_MS);
    const scope = own && (await isFamiliarScope(tx, email, own, familiarSince)) ? own : ANY_ADDRESS;
    const row = await lockThrottleRow(tx, email, scope);
    if (row.locked_until && row.locked_until > now) {
      throw new RateLimited(Math.ceil((row.locked_until.getTime() - now.getTime()) / 1000));
    }
    const isRecent = row.last_failed_at && now.getTime() - row.last_failed_at.getTime() < FAILURE_MEMORY_MS;
    const failures = (isRecent ? row.failures : 0) + 1;
    const delaySeconds = delayAfter(failures);
    const lockedUntil = delaySeconds > 0 ? new Date(now.getTime() + delaySeconds * 1000) : null;
    await saveThrottleFailure(tx, email, scope, { failures, at: now, lockedUntil });
    return { email, ip, scope, failures, delaySeconds };
  });
}

/** The password was right: the attempt's count starts over and its address becomes familiar. */
export async function signInSucceeded(deps: Deps, attempt: SignInAttempt): Promise<void> {
  await saveThrottleSuccess(
    deps.db,
    attempt.email,
    attempt.scope,
    addressScope(attempt.ip),
    deps.clock.now(),
  );
}

/** Whether the attempt came from an address the account signed in from before. */
export function isFromFamiliarAddress(attempt: SignInAttempt): boolean {
  return attempt.scope !== ANY_ADDRESS;
}

/** Part of the `sessions.cleanup` job. */
export async function cleanupSignInThrottles(deps: Pick<Deps, 'db' | 'clock'>): Promise<number> {
  const now = deps.clock.now();
  return deleteStaleThrottles(deps.db, {
    failedBefore: new Date(now.getTime() - FAILURE_MEMORY_MS),
    succeededBefore: new Date(now.getTime() - FAMILIAR_FOR_MS),
    now,
  });
}
