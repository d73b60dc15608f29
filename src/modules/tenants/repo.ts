import type { Executor } from '../../db/db.ts';

export interface TenantRow {
  id: string;
  name: string;
  slug: string;
  created_at: Date;
  member_count?: number;
}

export async function insertTenant(
  db: Executor,
  t: { id: string; name: string; slug: string },
): Promise<TenantRow> {
  const r = await db.query<TenantRow>(
    'INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3) RETURNING id, name, slug, created_at',
    [t.id, t.name, t.slug],
  );
  return r.rows[0]!;
}

export async function isSlugTaken(db: Executor, slug: string): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM tenants WHERE slug = $1', [slug]);
  return r.rows.length > 0;
}

export async function getTenant(db: Executor, id: string): Promise<TenantRow | undefined> {
  const r = await db.query<TenantRow>('SELECT id, name, slug, created_at FROM tenants WHERE id = $1', [id]);
  return r.rows[0];
}

/** All tenants, for instance admins only. */
export async function listTenants(
  db: Executor,
  afterId: string | undefined,
  limit: number,
): Promise<TenantRow[]> {
  const r = await db.query<TenantRow>(
    `SELECT t.id, t.name, t.slug, t.created_at,
            (SELECT count(*)::int FROM memberships m WHERE m.tenant_id = t.id) AS member_count
       FROM tenants t WHERE ($1::uuid IS NULL OR t.id > $1::uuid) ORDER BY t.id LIMIT $2`,
    [afterId ?? null, limit],
  );
  return r.rows;
}

export interface TenantLimits {
  maxExportRows: number | null;
  maxExportBytes: number | null;
  maxRunSeconds: number | null;
}

export async function getTenantLimits(db: Executor, id: string): Promise<TenantLimits | undefined> {
  const r = await db.query<{ r: string | null; b: string | null; s: number | null }>(
    'SELECT max_export_rows AS r, max_export_bytes AS b, max_run_seconds AS s FROM tenants WHERE id = $1',
    [id],
  );
  const row = r.rows[0];
  return (
    row && {
      maxExportRows: row.r === null ? null : Number(row.r),
      maxExportBytes: row.b === null ? null : Number(row.b),
      maxRunSeconds: row.s,
    }
  );
}

export async function setTenantLimits(db: Executor, id: string, limits: TenantLimits): Promise<boolean> {
  const r = await db.query(
    'UPDATE tenants SET max_export_rows = $2, max_export_bytes = $3, max_run_seconds = $4, updated_at = now() WHERE id = $1',
    [id, limits.maxExportRows, limits.maxExportBytes, limits.maxRunSeconds],
  );
  return r.rowCount > 0;
}

/** Where a tenant's deliveries may go (empty lists: anywhere). */
export interface DeliveryPolicy {
  allowedEmailDomains: string[];
  allowedWebhookHosts: string[];
}

export async function getDeliveryPolicy(db: Executor, id: string): Promise<DeliveryPolicy | undefined> {
  const r = await db.query<{ e: string[]; h: string[] }>(
    'SELECT allowed_email_domains AS e, allowed_webhook_hosts AS h FROM tenants WHERE id = $1',
    [id],
  );
  const row = r.rows[0];
  return row && { allowedEmailDomains: row.e, allowedWebhookHosts: row.h };
}

export async function setDeliveryPolicy(db: Executor, id: string, policy: DeliveryPolicy): Promise<void> {
  await db.query(
    'UPDATE tenants SET allowed_email_domains = $2, allowed_webhook_hosts = $3, updated_at = now() WHERE id = $1',
    [id, policy.allowedEmailDomains, policy.allowedWebhookHosts],
  );
}
