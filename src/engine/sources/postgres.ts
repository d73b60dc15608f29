import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import { copyTakesNullText, rewritesApply } from '../copy-csv-text.ts';
import { checkPgPrivileges } from './pg-privileges.ts';
import { inlinePgParameters, type PgQuery, parsePgReadQuery, verifyPgCopy } from './pg-query-check.ts';
import { CATALOG_SQL, type CatalogRow, pgColumnType, pgParsers, tablesFromCatalog } from './pg-types.ts';
import { postgresTls, type SourceTls } from './tls.ts';
import {
  type BoundQuery,
  type Column,
  type CopyFieldRewrite,
  type CsvCopy,
  type CsvCopyOptions,
  defaultReadLimits,
  type ReadLimits,
  type Row,
  type RowStream,
  type Source,
  SourceConnectError,
  SourceQueryError,
  type TableInfo,
} from './types.ts';

export interface PostgresSourceOptions {
  /** Ferry's own URLs only (the demo reader, tests): a tenant's settings come as the fields below. */
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  /** TLS mode and PEM material. Absent: none (or what connectionString says). */
  tls?: SourceTls;
  applicationName?: string;
  connectTimeoutMs?: number;
  /** Run user SQL as this role with this search_path (the demo connection on Ferry's own PostgreSQL). */
  role?: string;
  searchPath?: string;
  /** Only these schemas in the schema browser (default: all but the system ones). */
  schemas?: string[];
  maxConnections?: number;
}

// Every value arrives as text and is parsed by OID into exact values.
const identity = (text: string) => text;
const textTypes = {
  getTypeParser: (oid: number) => pgParsers[oid] ?? identity,
} as unknown as pg.CustomTypesConfig;

export function toSourceError(err: unknown): Error {
  const e = err as { message?: string; code?: string; position?: string };
  if (e?.code && /^(08|28|3D|53|57P0)/.test(e.code))
    return new SourceConnectError(e.message ?? 'connection failed', err);
  if (
    e?.code === 'ECONNREFUSED' ||
    e?.code === 'ENOTFOUND' ||
    e?.code === 'ETIMEDOUT' ||
    e?.code === 'ECONNRESET'
  ) {
    return new SourceConnectError(`Cannot reach the database: ${e.message}`, err);
  }
  if (e?.code) {
    return new SourceQueryError(e.message ?? 'query failed', {
      code: e.code,
      position: e.position ? Number(e.position) : undefined,
      cause: err,
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}

export function createPostgresSource(options: PostgresSourceOptions): Source {
  const config: pg.PoolConfig = {
    ...(options.connectionString ? { connectionString: options.connectionString } : {}),
    host: options.host,
    port: options.port,
    database: options.database,
    user: options.user,
    // A function, so a source without a password sends none: never the Ferry
    // host's PGPASSWORD or ~/.pgpass, which node-postgres reads for a missing one.
    ...(options.connectionString ? {} : { password: () => options.password ?? '' }),
    ssl: options.tls ? postgresTls(options.tls) : undefined,
    application_name: options.applicationName ?? 'ferry-source',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    // Ferry's own settings, which nothing above can change.
    max: options.maxConnections ?? 4,
    idleTimeoutMillis: 60_000,
  };
  const pool = new pg.Pool(config);
  pool.on('error', () => {
    // An idle connection dropped by the server; the pool replaces it.
  });

  /**
   * Asks the server to stop what a connection is running: a cancel request on a
   * connection of its own, as psql's Ctrl-C does. Closing the busy connection
   * alone is not enough: a query that sends nothing until it ends (an
   * aggregate) runs on until the server next writes to the closed socket.
   */
  const cancelRunning = (client: pg.PoolClient) => {
    const busy = client as unknown as { activeQuery?: unknown; processID?: number };
    if (!busy.activeQuery || !busy.processID) return;
    const canceller = new pg.Client(config) as pg.Client & {
      connection: { on(event: string, fn: () => void): void };
      cancel(client: unknown, query: unknown): void;
    };
    // Best effort: an unreachable server has nothing running to stop.
    canceller.connection.on('error', () => {});
    canceller.cancel(client, busy.activeQuery);
  };

  const connect = async () => {
    try {
      return await pool.connect();
    } catch (err) {
      throw toSourceError(err);
    }
  };

  // One round trip, no user text. standard_conforming_strings: the server lexes
  // strings as the parser that checked the query does (backslashes are not escapes).
  const beginReadOnly = async (client: pg.PoolClient, timeoutMs: number) => {
    const settings = [
      'BEGIN READ ONLY',
      `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`,
      "SET LOCAL TimeZone = 'UTC'",
      'SET LOCAL standard_conforming_strings = on',
      ...(options.role ? [`SET LOCAL ROLE ${pg.escapeIdentifier(options.role)}`] : []),
      ...(options.searchPath ? [`SET LOCAL search_path = ${pg.escapeIdentifier(options.searchPath)}`] : []),
    ];
    await client.query(settings.join('; '));
  };

  return {
    dialect: 'postgres',
    async test() {
      const client = await connect();
      try {
        await beginReadOnly(client, 10_000);
        const r = await client.query<{ version: string }>('SELECT version() AS version');
        await client.query('ROLLBACK');
        return { version: r.rows[0]!.version };
      } catch (err) {
        throw toSourceError(err);
      } finally {
        client.release();
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
      const client = await connect();
      let cursor: Cursor<unknown[]> | undefined;
      let released = false;
      const release = async (destroy: boolean) => {
        if (released) return;
        released = true;
        signal.removeEventListener('abort', onAbort);
        if (destroy) {
          // Not cursor.close(): on a busy connection it waits for the statement to end.
          cancelRunning(client);
          client.release(true);
          return;
        }
        try {
          if (cursor) await cursor.close();
          await client.query('ROLLBACK');
          client.release();
        } catch {
          client.release(true);
        }
      };
      // Aborting stops the statement on the server and drops the connection.
      const onAbort = () => void release(true);
      signal.addEventListener('abort', onAbort, { once: true });
      let first: unknown[][];
      try {
        await beginReadOnly(client, timeoutMs);
        cursor = client.query(
          new Cursor<unknown[]>(query.sql, query.values, { rowMode: 'array', types: textTypes }),
        );
        first = await cursor.read(batchSize);
      } catch (err) {
        await release(true);
        throw signal.aborted ? signal.reason : toSourceError(err);
      }
      const fields = (
        cursor as unknown as { _result: { fields: Array<{ name: string; dataTypeID: number }> } }
      )._result.fields;
      const columns: Column[] = fields.map((f) => {
        const t = pgColumnType(f.dataTypeID);
        return { name: f.name, type: t.type, dbType: t.name };
      });
      const current = cursor;
      async function* batches(): AsyncGenerator<Row[]> {
        try {
          let rows = first as Row[];
          while (rows.length > 0) {
            yield rows;
            if (rows.length < batchSize) break;
            signal.throwIfAborted();
            rows = (await current.read(batchSize)) as Row[];
          }
          await release(false);
        } catch (err) {
          await release(true);
          throw signal.aborted ? signal.reason : toSourceError(err);
        } finally {
          // Stopped early by the consumer: close the cursor and keep the connection.
          await release(false);
        }
      }
      return { columns, batches: batches() };
    },

    async copyCsv(
      query: BoundQuery,
      o: CsvCopyOptions,
      signal: AbortSignal,
      limits: Partial<ReadLimits> = {},
    ): Promise<CsvCopy | null> {
      const { timeoutMs } = { ...defaultReadLimits, ...limits };
      signal.throwIfAborted();
      const checked = await parsePgReadQuery(query.sql);
      if (!query.values.every(isCopyParameter)) return null;
      const client = await connect();
      let released = false;
      const release = (destroy: boolean) => {
        if (released) return;
        released = true;
        signal.removeEventListener('abort', onAbort);
        if (destroy) {
          cancelRunning(client);
          client.release(true);
        } else
          client.query('ROLLBACK').then(
            () => client.release(),
            () => client.release(true),
          );
      };
      const onAbort = () => release(true);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await beginReadOnly(client, timeoutMs);
        const inlined =
          query.values.length > 0 ? await withTypedLiterals(client, checked, query.values) : checked;
        if (inlined === null) {
          release(false);
          return null;
        }
        const plan = await copyCsvFromPostgres(client, inlined, o);
        if (!plan) {
          release(false);
          return null;
        }
        const stream = client.query(copyTo(plan.sql));
        stream.on('end', () => release(false));
        stream.on('error', () => release(true));
        return { columns: plan.columns, stream, rewrites: plan.rewrites };
      } catch (err) {
        release(true);
        throw signal.aborted ? signal.reason : toSourceError(err);
      }
    },

    async listTables(): Promise<TableInfo[]> {
      const client = await connect();
      try {
        await beginReadOnly(client, 30_000);
        const r = await client.query<CatalogRow>(CATALOG_SQL, [options.schemas ?? null]);
        await client.query('ROLLBACK');
        return tablesFromCatalog(r.rows);
      } catch (err) {
        throw toSourceError(err);
      } finally {
        client.release();
      }
    },

    async privileges() {
      const client = await connect();
      let failed = false;
      try {
        await beginReadOnly(client, 10_000);
        const report = await checkPgPrivileges(client);
        await client.query('ROLLBACK');
        return report;
      } catch (err) {
        failed = true;
        throw toSourceError(err);
      } finally {
        client.release(failed || undefined);
      }
    },

    async close() {
      await pool.end();
    },
  };
}

// --- COPY fast path for CSV -------------------------------------------------

/** Values that node-postgres sends as their own text (its prepareValue is toString()). */
function isCopyParameter(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/**
 * A statement sent with the extended query protocol, in which PostgreSQL
 * refuses a second statement (node-postgres's queryMode, missing from its types).
 */
function extendedProtocol(config: { text: string; rowMode?: 'array' }): pg.QueryArrayConfig {
  return { ...config, rowMode: 'array', queryMode: 'extended' } as unknown as pg.QueryArrayConfig;
}

/**
 * COPY takes no bound parameters. So each $n becomes its value as a quoted
 * literal cast to the type PostgreSQL infers for that parameter (read from the
 * prepared statement): the same text reaches the same type's input function as
 * with binding, and the planner sees the values as it does for a one-off bound
 * query. The literals are escaped by node-postgres's escapeLiteral and the
 * result is parsed again (inlinePgParameters): it must be the same query with
 * constants where the parameters were. Null when the statement cannot be
 * prepared: the row path then runs and reports why.
 */
async function withTypedLiterals(
  client: pg.PoolClient,
  query: PgQuery,
  values: unknown[],
): Promise<PgQuery | null> {
  try {
    await client.query('SAVEPOINT ferry_parameters');
    // The extended protocol: PostgreSQL refuses a second statement in it.
    await client.query(extendedProtocol({ text: `PREPARE ferry_copy_parameters AS ${query.sql}` }));
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT ferry_parameters');
    return null;
  }
  const r = await client.query<{ types: string[] }>(
    // format_type(…, -1): the type without a length, so char(n) reads as bpchar, not char(1).
    `SELECT array(SELECT format_type(t, -1) FROM unnest(parameter_types::oid[]) WITH ORDINALITY AS p(t, n) ORDER BY n) AS types
       FROM pg_prepared_statements WHERE name = 'ferry_copy_parameters'`,
  );
  await client.query('DEALLOCATE ferry_copy_parameters');
  const types = r.rows[0]?.types ?? [];
  if (types.length !== values.length) return null;
  const literals = values.map((raw, i) => {
    const v = raw as string | number | boolean | null;
    return `${v === null ? 'NULL' : pg.escapeLiteral(String(v))}::${types[i]}`;
  });
  return inlinePgParameters(query, literals);
}

// The characters that make a spreadsheet read text as a formula (values.ts); tested
// with left(…, 1) IN (…) rather than a regular expression: the same, cheaper.
const FORMULA_STARTS = `('=', '+', '-', '@', E'\\t', E'\\r', E'\\n')`;

/**
 * How a column goes through COPY: as it is, or with what is left for JavaScript
 * to rewrite (copy-csv-text.ts), or null when the type's text cannot be made
 * exactly Ferry's (then the caller streams rows instead). The rewrites keep the
 * server at plain COPY speed; SQL expressions do the same where the CSV options
 * rule the rewrites out.
 */
function copyColumn(
  column: string,
  oid: number,
  o: CsvCopyOptions,
  inJavaScript: boolean,
): { sql: string; rewrite: CopyFieldRewrite | null } | null {
  if (inJavaScript) {
    switch (oid) {
      case 16:
        return { sql: column, rewrite: 'boolean' };
      case 1114:
        return { sql: column, rewrite: 'timestamp' };
      case 1184:
        return { sql: column, rewrite: 'instant' };
      case 18:
      case 19:
      case 25:
      case 1042:
      case 1043:
        return { sql: column, rewrite: o.formulaProtection ? 'formula' : null };
    }
  }
  const sql = copyExpression(column, oid, o.formulaProtection);
  return sql === null ? null : { sql, rewrite: null };
}

/**
 * The SQL expression that makes PostgreSQL print a column exactly as Ferry's CSV
 * writer would, or null when no exact expression exists for the type.
 */
function copyExpression(column: string, oid: number, formulaProtection: boolean): string | null {
  switch (oid) {
    case 20: // int8
    case 21: // int2
    case 23: // int4
    case 26: // oid
    case 1700: // numeric
    case 1082: // date (DateStyle ISO)
    case 1083: // time
    case 2950: // uuid
      return column;
    case 16: // bool
      return `CASE WHEN ${column} THEN 'true' WHEN NOT ${column} THEN 'false' END`;
    case 1114: // timestamp: the text with "T", as the row path keeps it
      return `regexp_replace(${column}::text, ' ', 'T')`;
    case 1184: // timestamptz: an instant, ISO-8601 UTC with milliseconds, as Date.toISOString()
      // Years 1–9999 only, like the row path: other instants keep PostgreSQL's text.
      return `CASE WHEN isfinite(${column}) AND ${column} >= '0001-01-01 00:00:00+00' AND ${column} < '10000-01-01 00:00:00+00' THEN to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ELSE ${column}::text END`;
    case 18: // char
    case 1042: // bpchar: concat() keeps the padding that a cast to text would strip
      return formulaProtection
        ? `CASE WHEN ${column} IS NULL THEN NULL WHEN left(concat(${column}), 1) IN ${FORMULA_STARTS} THEN '''' || concat(${column}) ELSE concat(${column}) END`
        : column;
    case 19: // name
    case 25: // text
    case 1043: // varchar
      return formulaProtection
        ? `CASE WHEN left(${column}, 1) IN ${FORMULA_STARTS} THEN '''' || ${column} ELSE ${column}::text END`
        : column;
    default:
      return null;
  }
}

export async function copyCsvFromPostgres(
  client: pg.PoolClient,
  query: PgQuery,
  o: CsvCopyOptions,
): Promise<{ columns: Column[]; sql: string; rewrites: Array<CopyFieldRewrite | null> } | null> {
  if (query.params.length > 0) return null;
  if (!copyTakesNullText(o)) return null;
  if (!/^[\x20-\x7e\t]$/.test(o.delimiter) || !/^[\x20-\x7e]$/.test(o.quote)) return null;
  // ISO output; the session's field order stays, so a date typed in the query or
  // given as a parameter reads as it does on the row path.
  await client.query("SET LOCAL DateStyle = 'ISO'");
  const probe = await client.query(
    extendedProtocol({
      // The line break before ")": a query may end in a -- comment.
      text: `SELECT * FROM (${query.sql}\n) AS ferry_q LIMIT 0`,
      rowMode: 'array',
    }),
  );
  const aliases = probe.fields.map((_, i) => `c${i}`);
  const exprs: string[] = [];
  const rewrites: Array<CopyFieldRewrite | null> = [];
  const inJavaScript = rewritesApply(o);
  for (const [i, f] of probe.fields.entries()) {
    const c = copyColumn(`ferry_q.${aliases[i]}`, f.dataTypeID, o, inJavaScript);
    if (c === null) return null;
    exprs.push(`${c.sql} AS ${pg.escapeIdentifier(f.name)}`);
    rewrites.push(c.rewrite);
  }
  const columns = probe.fields.map((f) => {
    const t = pgColumnType(f.dataTypeID);
    return { name: f.name, type: t.type, dbType: t.name };
  });
  const sql = `COPY (SELECT ${exprs.join(', ')} FROM (${query.sql}\n) AS ferry_q(${aliases.join(', ')})) TO STDOUT WITH (FORMAT csv, HEADER ${o.header ? 'true' : 'false'}, DELIMITER ${pg.escapeLiteral(o.delimiter)}, QUOTE ${pg.escapeLiteral(o.quote)}, NULL ${pg.escapeLiteral(o.nullText)}, ENCODING 'UTF8')`;
  // COPY goes over the simple protocol, which runs every statement in the text:
  // prove it is one COPY of the checked query to STDOUT before sending it.
  await verifyPgCopy(sql, query);
  return { columns, sql, rewrites };
}
