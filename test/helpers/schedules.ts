import type { Db } from '../../src/db/db.ts';
import { fireDueSchedules, type TickResult } from '../../src/scheduler/claim-due.ts';
import { call, type TestApp } from './app.ts';

// Scheduler tests move the database's notion of now (ferry_now()), the clock
// every scheduler reads, instead of waiting.

export async function setDatabaseNow(db: Db, at: string | Date): Promise<void> {
  await db.query(
    `INSERT INTO clock_offset (singleton, shift) VALUES (true, $1::timestamptz - clock_timestamp())
     ON CONFLICT (singleton) DO UPDATE SET shift = excluded.shift`,
    [new Date(at)],
  );
}

export async function tick(t: TestApp, batch = 500): Promise<TickResult> {
  return fireDueSchedules(t.ctx, batch);
}

export async function scheduleRuns(t: TestApp, key: string, scheduleId: string) {
  const r = await call(t, { url: `/api/v1/runs?scheduleId=${scheduleId}&limit=500`, key });
  if (r.status !== 200) throw new Error(`runs: ${r.status} ${r.text}`);
  // Oldest occurrence first.
  return (
    r.body.items as Array<{
      status: string;
      scheduledFor: string | null;
      trigger: string;
      error: string | null;
      id: string;
    }>
  ).sort((a, b) => String(a.scheduledFor).localeCompare(String(b.scheduledFor)));
}

/** pg-boss jobs for runs of one schedule: one per queued attempt. */
export async function jobsForRuns(db: Db, runIds: string[]): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pgboss.job WHERE name = 'run.execute' AND data->>'runId' = ANY($1::text[])`,
    [runIds],
  );
  return Number(r.rows[0]!.n);
}
