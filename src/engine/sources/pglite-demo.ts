import { randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { parsePgReadQuery } from './pg-query-check.ts';
import { CATALOG_SQL, type CatalogRow, pgColumnType, pgParsers, tablesFromCatalog } from './pg-types.ts';
import { toSourceError } from './postgres.ts';
import {
  type BoundQuery,
  type Column,
  defaultReadLimits,
  type ReadLimits,
  type Row,
  type RowStream,
  type Source,
  type TableInfo,
} from './types.ts';

// The demo connection on the embedded database. PGlite is one connection shared
// with the whole of Ferry, so a long export must not hold it: the query runs once
// in a short read-only transaction as the demo reader role and is kept in a
// WITH HOLD cursor, then each batch is a separate FETCH, letting other work
// interleave between batches.

export function createPgliteDemoSource(pglite: PGlite, role: string, schema: string): Source {
  const setup = (timeoutMs: number) =>
    `BEGIN READ ONLY; SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}; SET LOCAL TimeZone = 'UTC'; SET LOCAL ROLE ${role}; SET LOCAL search_path = ${schema};`;

  const inReadOnly = async <T>(
    timeoutMs: number,
    fn: (tx: { query: PGlite['query'] }) => Promise<T>,
  ): Promise<T> =>
    pglite.transaction(async (tx) => {
      await tx.exec(setup(timeoutMs).replace('BEGIN READ ONLY; ', 'SET TRANSACTION READ ONLY; '));
      return fn(tx as unknown as { query: PGlite['query'] });
    });

  return {
    dialect: 'postgres',
    async test() {
      try {
        const r = await inReadOnly(10_000, (tx) =>
          tx.query<{ version: string }>('SELECT version() AS version'),
        );
        return { version: `${r.rows[0]!.version} (embedded, demo data)` };
      } catch (err) {
        throw toSourceError(err);
      }
    },

    async openRows(
      query: BoundQuery,
      signal: AbortSignal,
      limits: Partial<ReadLimits> = {},
    ): Promise<RowStream> {
      const { timeoutMs, batchSize } = { ...defaultReadLimits, ...limits };
      signal.throwIfAborted();
      // Self-protecting: whoever calls, only a single read statement reaches the database.
      await parsePgReadQuery(query.sql);
      const cursor = `ferry_${randomBytes(8).toString('hex')}`;
      const declare = `DECLARE ${cursor} NO SCROLL CURSOR WITH HOLD FOR `;
      let fields: Array<{ name: string; dataTypeID: number }>;
      try {
        fields = await inReadOnly(timeoutMs, async (tx) => {
          await tx.query(`${declare}${query.sql}`, query.values);
          const probe = await tx.query(`FETCH 0 FROM ${cursor}`);
          return probe.fields;
        });
      } catch (err) {
        // Positions count from the start of the user's query, not of DECLARE.
        const e = err as { position?: string };
        if (e?.position) e.position = String(Math.max(1, Number(e.position) - declare.length));
        throw toSourceError(err);
      }
      const columns: Column[] = fields.map((f) => {
        const t = pgColumnType(f.dataTypeID);
        return { name: f.name, type: t.type, dbType: t.name };
      });
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await pglite.query(`CLOSE ${cursor}`).catch(() => {});
      };
      async function* batches(): AsyncGenerator<Row[]> {
        try {
          for (;;) {
            signal.throwIfAborted();
            const r = await pglite.query<unknown[]>(`FETCH ${batchSize} FROM ${cursor}`, [], {
              rowMode: 'array',
              parsers: pgParsers,
            });
            if (r.rows.length > 0) yield r.rows as Row[];
            if (r.rows.length < batchSize) break;
          }
        } catch (err) {
          throw signal.aborted ? signal.reason : toSourceError(err);
        } finally {
          await close();
        }
      }
      return { columns, batches: batches(), close };
    },

    async listTables(): Promise<TableInfo[]> {
      const r = await inReadOnly(30_000, (tx) => tx.query<CatalogRow>(CATALOG_SQL, [[schema]]));
      return tablesFromCatalog(r.rows);
    },

    async close() {
      // The PGlite instance belongs to Ferry's database layer.
    },
  };
}
