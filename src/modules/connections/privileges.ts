import type { PrivilegeReport, Source } from '../../engine/sources/types.ts';
import { describeError } from '../../lib/errors.ts';
import { recordAnonymousAudit, recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import {
  type ConnectionRow,
  type ConnectionType,
  lockConnection,
  type PrivilegeState,
  setConnectionPrivileges,
} from './repo.ts';
import type { NormalizedConnection, SettingsPolicy } from './settings.ts';
import { createServerSource, NO_PRIVILEGES, privilegedUserRefused } from './sources.ts';

// What a connection's database user may do beyond reading (the sources ask the
// server): checked before new settings are saved, when a connection is tested,
// and on first use of settings not checked yet (sources.ts); recorded on the
// row, and in the audit log when the finding changes.

/** How long saving waits for the privilege check; an unreachable server is checked on first use. */
const CHECK_MS = 5_000;

export type SettingsCheck = { report: PrivilegeReport; error?: undefined } | { report: null; error: string };

/** Asks the server what the new settings' user may do, on a throwaway source. */
export async function checkSettings(
  type: ConnectionType,
  normalized: NormalizedConnection,
  policy: SettingsPolicy,
): Promise<SettingsCheck> {
  if (type !== 'postgres' && type !== 'mysql') return { report: NO_PRIVILEGES };
  let source: Source | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    source = createServerSource(type, normalized.config, normalized.secret, policy);
    const asked = source.privileges?.() ?? Promise.resolve(NO_PRIVILEGES);
    asked.catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_MS / 1000} s`)), CHECK_MS);
    });
    return { report: await Promise.race([asked, timeout]) };
  } catch (err) {
    return { report: null, error: describeError(err) };
  } finally {
    clearTimeout(timer);
    await source?.close().catch(() => {});
  }
}

export const stateOf = (check: SettingsCheck, at: Date): PrivilegeState =>
  check.report
    ? { warnings: check.report.warnings, isPrivilegedUser: check.report.isSuperuser, checkedAt: at }
    : { warnings: [], isPrivilegedUser: false, checkedAt: null };

export const auditOf = (check: SettingsCheck) =>
  check.report
    ? { privilegeWarnings: check.report.warnings, privilegedUser: check.report.isSuperuser }
    : { privilegeCheck: `not possible now (${check.error}); checked on first use` };

export function refusePrivileged(report: PrivilegeReport | null, allowed: boolean): void {
  if (report?.isSuperuser && !allowed) throw privilegedUserRefused(report);
}

/**
 * Stores what a check found for a row's current settings, unless they changed
 * meanwhile; an audit entry when the finding differs from what was stored.
 */
export async function recordPrivilegeCheck(
  deps: Deps,
  row: ConnectionRow,
  report: PrivilegeReport,
  by: { actor: Principal; origin: RequestOrigin } | null,
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const current = await lockConnection(tx, row.tenant_id, row.id);
    if (!current || current.updated_at.getTime() !== row.updated_at.getTime()) return;
    await setConnectionPrivileges(tx, row.tenant_id, row.id, {
      warnings: report.warnings,
      isPrivilegedUser: report.isSuperuser,
      checkedAt: deps.clock.now(),
    });
    const isSame =
      current.privileges_checked_at !== null &&
      current.privileged_user === report.isSuperuser &&
      JSON.stringify(current.privilege_warnings) === JSON.stringify(report.warnings);
    if (isSame) return;
    const event = {
      action: 'connection.privileges_checked',
      targetType: 'connection',
      targetId: row.id,
      details: { privilegeWarnings: report.warnings, privilegedUser: report.isSuperuser },
    };
    if (by) await recordAudit(tx, deps.clock, by.actor, by.origin, event);
    else
      await recordAnonymousAudit(
        tx,
        deps.clock,
        row.tenant_id,
        { type: 'system', label: 'first use after a change' },
        { ip: null, userAgent: null },
        event,
      );
  });
}
