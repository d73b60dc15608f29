import type { Executor } from '../../db/db.ts';

export interface AuditEntry {
  tenantId: string | null;
  actorType: 'user' | 'api_key' | 'system' | 'anonymous';
  actorId: string | null;
  actorLabel: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  at: Date;
}

export interface AuditRow {
  id: string;
  tenant_id: string | null;
  actor_type: AuditEntry['actorType'];
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  created_at: Date;
}

export async function insertAuditEntry(db: Executor, e: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (tenant_id, actor_type, actor_id, actor_label, action, target_type, target_id, ip, user_agent, details, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      e.tenantId,
      e.actorType,
      e.actorId,
      e.actorLabel,
      e.action,
      e.targetType,
      e.targetId,
      e.ip,
      e.userAgent,
      JSON.stringify(e.details),
      e.at,
    ],
  );
}

export interface AuditFilter {
  action?: string | undefined;
  actorId?: string | undefined;
  actorType?: AuditEntry['actorType'] | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  beforeId?: number | undefined;
}

export async function listAuditEntries(
  db: Executor,
  tenantId: string,
  f: AuditFilter,
  limit: number,
): Promise<AuditRow[]> {
  const where = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  // An action filter ending in "." or "*" matches a family ("member." → member.added, member.removed).
  if (f.action !== undefined) {
    if (f.action.endsWith('*')) add("action LIKE ? || '%'", f.action.slice(0, -1));
    else add('action = ?', f.action);
  }
  if (f.actorId !== undefined) add('actor_id = ?', f.actorId);
  if (f.actorType !== undefined) add('actor_type = ?', f.actorType);
  if (f.targetType !== undefined) add('target_type = ?', f.targetType);
  if (f.targetId !== undefined) add('target_id = ?', f.targetId);
  if (f.from !== undefined) add('created_at >= ?', f.from);
  if (f.to !== undefined) add('created_at < ?', f.to);
  if (f.beforeId !== undefined) add('id < ?', f.beforeId);
  params.push(limit);
  const result = await db.query<AuditRow>(
    `SELECT id::text AS id, tenant_id, actor_type, actor_id, actor_label, action, target_type, target_id, ip, user_agent, details, created_at
       FROM audit_log WHERE ${where.join(' AND ')} ORDER BY audit_log.id DESC LIMIT $${params.length}`,
    params,
  );
  return result.rows;
}

export interface AuditFacets {
  actions: string[];
  targetTypes: string[];
  actors: Array<{ type: AuditEntry['actorType']; id: string | null; label: string | null }>;
}

/** The actions, target types and actors found in a tenant's log, for filter pickers (actors newest first). */
export async function auditFacets(db: Executor, tenantId: string, maxActors: number): Promise<AuditFacets> {
  const [actions, targets, actors] = await Promise.all([
    db.query<{ action: string }>(
      'SELECT DISTINCT action FROM audit_log WHERE tenant_id = $1 ORDER BY action',
      [tenantId],
    ),
    db.query<{ target_type: string }>(
      'SELECT DISTINCT target_type FROM audit_log WHERE tenant_id = $1 AND target_type IS NOT NULL ORDER BY target_type',
      [tenantId],
    ),
    db.query<{ actor_type: AuditEntry['actorType']; actor_id: string | null; label: string | null }>(
      `SELECT actor_type, actor_id::text AS actor_id, (array_agg(actor_label ORDER BY id DESC))[1] AS label
         FROM audit_log WHERE tenant_id = $1
        GROUP BY actor_type, actor_id ORDER BY max(id) DESC LIMIT $2`,
      [tenantId, maxActors],
    ),
  ]);
  return {
    actions: actions.rows.map((r) => r.action),
    targetTypes: targets.rows.map((r) => r.target_type),
    actors: actors.rows.map((r) => ({ type: r.actor_type, id: r.actor_id, label: r.label })),
  };
}
