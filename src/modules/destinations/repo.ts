import type { Executor } from '../../db/db.ts';

export interface DestinationRow {
  id: string;
  tenant_id: string;
  name: string;
  type: string;
  settings: Record<string, unknown>;
  secret: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  last_test_at: Date | null;
  last_test_ok: boolean | null;
  last_test_message: string | null;
}

export async function insertDestination(
  db: Executor,
  d: {
    id: string;
    tenantId: string;
    name: string;
    type: string;
    settings: Record<string, unknown>;
    secret: string | null;
    createdBy: string | null;
    now: Date;
  },
): Promise<DestinationRow> {
  const r = await db.query<DestinationRow>(
    `INSERT INTO destinations (id, tenant_id, name, type, settings, secret, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *`,
    [d.id, d.tenantId, d.name, d.type, JSON.stringify(d.settings), d.secret, d.createdBy, d.now],
  );
  return r.rows[0]!;
}

export async function updateDestination(
  db: Executor,
  tenantId: string,
  id: string,
  d: { name: string; settings: Record<string, unknown>; secret: string | null; now: Date },
): Promise<DestinationRow | undefined> {
  const r = await db.query<DestinationRow>(
    `UPDATE destinations SET name = $3, settings = $4, secret = $5, updated_at = $6
      WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [tenantId, id, d.name, JSON.stringify(d.settings), d.secret, d.now],
  );
  return r.rows[0];
}

export async function getDestination(
  db: Executor,
  tenantId: string,
  id: string,
): Promise<DestinationRow | undefined> {
  const r = await db.query<DestinationRow>('SELECT * FROM destinations WHERE tenant_id = $1 AND id = $2', [
    tenantId,
    id,
  ]);
  return r.rows[0];
}

/** The tenant's destinations among `ids` (others' ids are simply not found). */
export async function getDestinations(
  db: Executor,
  tenantId: string,
  ids: string[],
): Promise<DestinationRow[]> {
  if (ids.length === 0) return [];
  const r = await db.query<DestinationRow>(
    'SELECT * FROM destinations WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY name, id',
    [tenantId, ids],
  );
  return r.rows;
}

export async function listDestinations(db: Executor, tenantId: string): Promise<DestinationRow[]> {
  const r = await db.query<DestinationRow>(
    'SELECT * FROM destinations WHERE tenant_id = $1 ORDER BY lower(name), id',
    [tenantId],
  );
  return r.rows;
}

export async function deleteDestination(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM destinations WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return r.rowCount > 0;
}

export async function recordDestinationTest(
  db: Executor,
  tenantId: string,
  id: string,
  result: { ok: boolean; message: string; at: Date },
): Promise<void> {
  await db.query(
    `UPDATE destinations SET last_test_at = $3, last_test_ok = $4, last_test_message = $5
      WHERE tenant_id = $1 AND id = $2`,
    [tenantId, id, result.at, result.ok, result.message.slice(0, 1000)],
  );
}

/** The schedules that deliver to each destination ("where each is used"). */
export async function schedulesUsing(
  db: Executor,
  tenantId: string,
  ids: string[],
): Promise<Map<string, Array<{ id: string; name: string }>>> {
  const out = new Map<string, Array<{ id: string; name: string }>>();
  if (ids.length === 0) return out;
  const r = await db.query<{ destination_id: string; id: string; name: string }>(
    `SELECT d AS destination_id, s.id, s.name FROM schedules s, unnest(s.destination_ids) AS d
      WHERE s.tenant_id = $1 AND d = ANY($2::uuid[]) ORDER BY lower(s.name), s.id`,
    [tenantId, ids],
  );
  for (const row of r.rows) {
    const list = out.get(row.destination_id) ?? [];
    list.push({ id: row.id, name: row.name });
    out.set(row.destination_id, list);
  }
  return out;
}
