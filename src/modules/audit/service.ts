import type { Executor } from '../../db/db.ts';
import type { Clock } from '../../lib/clock.ts';
import { decodeCursor, type Page, toPage } from '../../lib/pagination.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { type AuditView, presentAuditEntry } from './present.ts';
import {
  type AuditFacets,
  type AuditFilter,
  type AuditRow,
  auditFacets,
  insertAuditEntry,
  listAuditEntries,
} from './repo.ts';

export interface AuditEvent {
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

/** Records an action taken by a signed-in user or an API key, in the caller's transaction. */
export async function recordAudit(
  db: Executor,
  clock: Clock,
  actor: Principal,
  origin: RequestOrigin,
  event: AuditEvent,
  tenantId: string = actor.tenantId,
): Promise<void> {
  await insertAuditEntry(db, {
    tenantId,
    actorType: actor.kind,
    actorId: actor.kind === 'api_key' ? actor.apiKeyId : actor.userId,
    actorLabel: actor.label,
    action: event.action,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    ip: origin.ip,
    userAgent: origin.userAgent,
    details: event.details ?? {},
    at: clock.now(),
  });
}

/** Records an action with no signed-in actor (a login attempt, the CLI, the system). */
export async function recordAnonymousAudit(
  db: Executor,
  clock: Clock,
  tenantId: string | null,
  actor: { type: 'anonymous' | 'system' | 'user'; id?: string | null; label?: string | null },
  origin: RequestOrigin,
  event: AuditEvent,
): Promise<void> {
  await insertAuditEntry(db, {
    tenantId,
    actorType: actor.type,
    actorId: actor.id ?? null,
    actorLabel: actor.label ?? null,
    action: event.action,
    targetType: event.targetType ?? null,
    targetId: event.targetId ?? null,
    ip: origin.ip,
    userAgent: origin.userAgent,
    details: event.details ?? {},
    at: clock.now(),
  });
}

export interface AuditQuery extends Omit<AuditFilter, 'beforeId'> {
  cursor?: string | undefined;
  limit: number;
}

export async function listAudit(deps: Deps, principal: Principal, q: AuditQuery): Promise<Page<AuditView>> {
  const cursor = decodeCursor(q.cursor, { id: 'number' });
  const rows = await listAuditEntries(
    deps.db,
    principal.tenantId,
    { ...q, beforeId: cursor?.id },
    q.limit + 1,
  );
  return toPage(rows, q.limit, presentAuditEntry, (row: AuditRow) => ({ id: Number(row.id) }));
}

/** The values the log's filters can take in the caller's tenant. */
export async function listAuditFacets(deps: Deps, principal: Principal): Promise<AuditFacets> {
  return auditFacets(deps.db, principal.tenantId, 200);
}
