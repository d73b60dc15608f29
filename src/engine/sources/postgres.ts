import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import { copyTakesNullText, rewritesApply } from '../copy-csv-text.ts';
import { checkPgPrivileges } from './pg-privileges.ts';
import { inlinePgParameters, type PgQuery, parsePgReadQuery, verifyPgCopy } from './pg-query-check.ts';
import { CATALOG_SQL, type CatalogRow, pgColumnType, pgParsers, tablesFromCatalog } from './pg-types.ts';
import { gateSource, type SourceDriver } from './read-gate.ts';
import { type SessionControl, STOP_STEP_MS, sessionStops, trackRead } from './session-stop.ts';
import { postgresTls, type SourceTls } from './tls.ts';
import {
  type BoundQuery,
  type Column,
  type CopyFieldRewrite,
  type CsvCopy,
  type CsvCopyOptions,
  connectionLost,
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
  /** How long a stopped session may take to leave the server before it is terminated (tests shorten it). */
  stopGraceMs?: number;
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

/** A PostgreSQL source (Ferry's demo data too); its reads pass the gate of read-gate.ts. */
export function createPostgresSource(options: PostgresSourceOptions): Source {
  return gateSource(postgresDriver(options));
}

/** A query that passed the read-only check, with the statement the check parsed. */
interface PgChecked {
  query: BoundQuery;
  parsed: PgQuery;
}

function postgresDriver(options: PostgresSourceOptions): SourceDriver<PgChecked> {
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
  // pg-pool listens for errors on idle clients only: a checked-out client whose
  // connection fails (the server restarts, the session is terminated, the network
  // drops) would emit 'error' with nobody listening, which ends the process. The
  // statement in progress, or the next one, fails with the same error.
  const lastWords = new WeakMap<pg.ClientBase, unknown>();
  pool.on('connect', (client) => {
    client.on('error', () => {});
    // The server's own reason for closing a session (pg_terminate_backend, a
    // shutdown) comes as a FATAL message before the close: a read lost with it says why.
    protocolConnection(client).on('errorMessage', (msg: { severity?: string }) => {
      if (msg.severity === 'FATAL' || msg.severity === 'PANIC') lastWords.set(client, msg);
    });
  });
  const stops = sessionStops(options.stopGraceMs);
  /** Every read in progress, by the function that stops it (close() stops them all). */
  const reading = new Set<() => void>();

  const control = (client: pg.PoolClient): SessionControl => {
    const key = client as unknown as BackendKey;
    return {
      cancel: () => sendCancelRequest(config, key),
      close: () => dropClient(client),
      terminate: (sinceMs) => terminateBackend(config, key.processID, sinceMs),
    };
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

  /**
   * A client checked out for one read, in a read-only transaction begun by the
   * caller. Aborting the signal, more than `maxBytes` arriving, the connection
   * going, or a failure that may leave a statement running stops the session
   * (session-stop.ts); a read that ends normally gives the client back.
   */
  const openSession = async (signal: AbortSignal, maxBytes: number) => {
    const client = await connect();
    if (signal.aborted) {
      client.release();
      throw signal.reason;
    }
    const read = trackRead({
      signal,
      stops,
      session: control(client),
      connection: client,
      lost: (err) =>
        connectionLost(
          toSourceError(lastWords.get(client) ?? err ?? new Error('Connection terminated unexpectedly')),
        ),
      socket: socketOf(client),
      maxBytes,
      reading,
    });
    let finishing = false;
    return {
      client,
      whileOpen: read.whileOpen,
      onStop: read.onStop,
      /** Gives the client back (after `before`, e.g. closing the cursor); a stop still applies meanwhile. */
      async finish(before?: () => Promise<void>) {
        if (read.ended || finishing) return;
        finishing = true;
        try {
          await read.whileOpen(
            (async () => {
              await before?.();
              await client.query('ROLLBACK');
            })(),
          );
        } catch (err) {
          read.stop(toSourceError(err));
          return;
        }
        if (read.end()) client.release();
      },
      /** What the read fails with; the session is stopped unless the server only refused the statement. */
      fail(err: unknown): unknown {
        if (!read.ended) {
          // The server answered with an error: nothing runs, the connection is only in a failed transaction.
          if (isStatementError(err) && !signal.aborted) {
            read.end();
            client.release(true);
          } else read.stop(toSourceError(err));
        }
        return signal.aborted ? signal.reason : (read.stoppedBy ?? toSourceError(err));
      },
    };
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

    // Whoever calls, only a single read statement reaches the database.
    checkRead: async (query: BoundQuery): Promise<PgChecked> => ({
      query,
      parsed: await parsePgReadQuery(query.sql),
    }),

    async readRows({ query }, signal, { timeoutMs, batchSize, maxBytes }): Promise<RowStream> {
      const session = await openSession(signal, maxBytes);
      const { client } = session;
      let cursor: Cursor<unknown[]> | undefined;
      let first: unknown[][];
      try {
        await session.whileOpen(beginReadOnly(client, timeoutMs));
        cursor = client.query(
          new Cursor<unknown[]>(query.sql, query.values, { rowMode: 'array', types: textTypes }),
        );
        first = await session.whileOpen(cursor.read(batchSize));
      } catch (err) {
        throw session.fail(err);
      }
      const fields = (
        cursor as unknown as { _result: { fields: Array<{ name: string; dataTypeID: number }> } }
      )._result.fields;
      const columns: Column[] = fields.map((f) => {
        const t = pgColumnType(f.dataTypeID);
        return { name: f.name, type: t.type, dbType: t.name };
      });
      const current = cursor;
      // Read to the end, or stopped early by the consumer: close the cursor and keep the connection.
      const finish = () => session.finish(() => current.close());
      async function* batches(): AsyncGenerator<Row[]> {
        try {
          let rows = first as Row[];
          while (rows.length > 0) {
            yield rows;
            if (rows.length < batchSize) break;
            signal.throwIfAborted();
            rows = (await session.whileOpen(current.read(batchSize))) as Row[];
          }
        } catch (err) {
          throw session.fail(err);
        } finally {
          await finish();
        }
      }
      return { columns, batches: batches(), close: finish };
    },

    async copyCsv({ query, parsed }, o, signal, { timeoutMs }): Promise<CsvCopy | null> {
      if (!query.values.every(isCopyParameter)) return null;
      const session = await openSession(signal, Number.POSITIVE_INFINITY);
      const { client } = session;
      try {
        const plan = await session.whileOpen(
          (async () => {
            await beginReadOnly(client, timeoutMs);
            const inlined =
              query.values.length > 0 ? await withTypedLiterals(client, parsed, query.values) : parsed;
            return inlined && (await copyCsvFromPostgres(client, inlined, o));
          })(),
        );
        if (!plan) {
          await session.finish();
          return null;
        }
        const stream = client.query(copyTo(plan.sql));
        stream.on('end', () => void session.finish());
        stream.on('error', (err) => session.fail(err));
        // A stopped session ends the stream too, whatever the driver makes of its closed connection.
        session.onStop((reason) => stream.destroy(reason as Error));
        return { columns: plan.columns, stream, rewrites: plan.rewrites };
      } catch (err) {
        throw session.fail(err);
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
      // Shutdown (or a connection's new settings): reads still running are stopped
      // on the server, and their sessions ended at once rather than after the grace.
      for (const stop of [...reading]) stop();
      await stops.flush();
      await pool.end();
    },
  };
}

// --- Stopping a session ------------------------------------------------------

interface BackendKey {
  processID: number;
  secretKey: number;
}

interface CancelConnection {
  stream: Socket;
  on(event: 'error' | 'end', fn: () => void): void;
  once(event: 'connect', fn: () => void): void;
  connect(port: number | string, host?: string): void;
  cancel(processID: number, secretKey: number): void;
}

/** node-postgres's protocol connection of a client (not in its types). */
const protocolConnection = (client: pg.ClientBase) =>
  (client as unknown as { connection: EventEmitter & { stream?: Socket } }).connection;

const socketOf = (client: pg.ClientBase): Socket | undefined => protocolConnection(client).stream;

/** An error the server sent for the statement (severity ERROR): the session itself is fine. */
function isStatementError(err: unknown): boolean {
  return (err as { severity?: string } | null)?.severity === 'ERROR';
}

/**
 * Out of the pool, and the socket destroyed at once: a polite end writes a
 * goodbye and waits for the server to close, which a server that does not answer never does.
 */
function dropClient(client: pg.PoolClient): void {
  client.release(true);
  socketOf(client)?.destroy();
}

/**
 * PostgreSQL's cancel request for a backend, on a connection of its own (what
 * psql's Ctrl-C sends). A Client is made only to resolve host, port and TLS as
 * the pool does; not client.cancel(), which reads a deprecated property.
 */
function sendCancelRequest(config: pg.ClientConfig, key: BackendKey): Promise<void> {
  const helper = new pg.Client(config) as unknown as {
    host: string;
    port: number;
    connection: CancelConnection;
  };
  const con = helper.connection;
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      con.stream.destroy();
      resolve();
    };
    const timer = setTimeout(done, STOP_STEP_MS);
    con.on('error', done);
    // The server closes the connection once it has read the request.
    con.on('end', done);
    con.once('connect', () => con.cancel(key.processID, key.secretKey));
    if (helper.host.startsWith('/')) con.connect(`${helper.host}/.s.PGSQL.${helper.port}`);
    else con.connect(helper.port, helper.host);
  });
}

/**
 * Ends a backend that outlived its cancel and close, through a session of its
 * own. Only the backend that was stopped: one started since then has reused its pid.
 */
async function terminateBackend(config: pg.ClientConfig, processID: number, sinceMs: number): Promise<void> {
  const client = new pg.Client({
    ...config,
    connectionTimeoutMillis: STOP_STEP_MS,
    statement_timeout: STOP_STEP_MS,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE pid = $1 AND backend_start < clock_timestamp() - make_interval(secs => $2)`,
      [processID, sinceMs / 1000],
    );
  } finally {
    await client.end().catch(() => {});
  }
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
    case 1184: // timestamptz: an instant, ISO-8601 UTC with milliseconds, and microseconds when it has any
      // Years 1–9999 only, like the row path: other instants keep PostgreSQL's text.
      return `CASE WHEN isfinite(${column}) AND ${column} >= '0001-01-01 00:00:00+00' AND ${column} < '10000-01-01 00:00:00+00' THEN regexp_replace(to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '000$', '') || 'Z' ELSE ${column}::text END`;
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
