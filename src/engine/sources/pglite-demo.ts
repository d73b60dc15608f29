import { randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { pgColumnType, pgParsers } from './pg-types.ts';
import { toSourceError } from './postgres.ts';
import { checkReadOnlySql } from './sql-text.ts';
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
      checkReadOnlySql(query.sql, 'postgres');
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
      return { columns, batches: batches() };
    },

    async listTables(): Promise<TableInfo[]> {
      const r = await inReadOnly(30_000, (tx) =>
        tx.query<{
          table: string;
          kind: string;
          column: string;
          type: string;
          nullable: boolean;
          oid: number;
        }>(
          `SELECT c.relname AS table, c.relkind AS kind, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
                  NOT a.attnotnull AS nullable, a.atttypid::int AS oid
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm') AND c.relname <> 'meta'
            ORDER BY c.relname, a.attnum`,
          [schema],
        ),
      );
      const tables = new Map<string, TableInfo>();
      for (const row of r.rows) {
        let t = tables.get(row.table);
        if (!t) {
          t = { schema, name: row.table, kind: row.kind === 'r' ? 'table' : 'view', columns: [] };
          tables.set(row.table, t);
        }
        t.columns.push({
          name: row.column,
          type: pgColumnType(row.oid).type,
          dbType: row.type,
          nullable: row.nullable,
        });
      }
      return [...tables.values()];
    },

    async close() {
      // The PGlite instance belongs to Ferry's database layer.
    },
  };
}
