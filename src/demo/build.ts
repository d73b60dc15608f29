import type { Db } from '../db/db.ts';
import { DEFAULT_DEMO_ROWS, DEMO_VERSION, demoDatasetSql } from './dataset.ts';

const DEMO_LOCK_KEY = 0x64656d6f; // "demo"

/** The demo dataset of this start: built (or found) in the background while Ferry already serves. */
export interface DemoStatus {
  readonly state: 'preparing' | 'ready' | 'failed';
  /** Resolves when the dataset can be read; rejects, saying why, when it could not be built. */
  ready(): Promise<void>;
}

export interface DemoState {
  version: number;
  salesLines: number;
}

export async function readDemoState(db: Db): Promise<DemoState | null> {
  const present = await db.query<{ ok: boolean }>("SELECT to_regclass('demo.meta') IS NOT NULL AS ok");
  if (!present.rows[0]?.ok) return null;
  const r = await db.query<{ version: number; sales_lines: number }>(
    'SELECT version, sales_lines FROM demo.meta',
  );
  const row = r.rows[0];
  return row ? { version: row.version, salesLines: row.sales_lines } : null;
}

/**
 * Builds the demo dataset when it is missing or from an older version (or rebuilds
 * it with `rows` sales lines when `force` is set). One transaction under an
 * advisory lock, so concurrent starts build it once and readers never see half.
 */
export async function ensureDemoData(
  db: Db,
  options: { rows?: number; force?: boolean } = {},
): Promise<{ built: boolean; ms: number }> {
  const started = performance.now();
  const current = await readDemoState(db);
  if (!options.force && current?.version === DEMO_VERSION) return { built: false, ms: 0 };
  const rows = options.rows ?? current?.salesLines ?? DEFAULT_DEMO_ROWS;
  const built = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [DEMO_LOCK_KEY]);
    if (!options.force) {
      const again = await tx.query<{ ok: boolean }>("SELECT to_regclass('demo.meta') IS NOT NULL AS ok");
      if (again.rows[0]?.ok) {
        const v = await tx.query<{ version: number }>('SELECT version FROM demo.meta');
        if (v.rows[0]?.version === DEMO_VERSION) return false;
      }
    }
    await tx.exec(demoDatasetSql(rows));
    return true;
  });
  return { built, ms: Math.round(performance.now() - started) };
}
