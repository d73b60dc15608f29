import type { AuditEntry, AuditRow } from './repo.ts';

export interface AuditView {
  id: string;
  action: string;
  actor: { type: AuditEntry['actorType']; id: string | null; label: string | null };
  target: { type: string; id: string | null } | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

export function presentAuditEntry(row: AuditRow): AuditView {
  return {
    id: row.id,
    action: row.action,
    actor: { type: row.actor_type, id: row.actor_id, label: row.actor_label },
    target: row.target_type ? { type: row.target_type, id: row.target_id } : null,
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details,
    createdAt: row.created_at.toISOString(),
  };
}
