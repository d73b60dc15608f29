import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type mysql from 'mysql2';
import { lazyModule } from '../../lib/lazy-module.ts';
import { checkMysqlReadOnly, inlineMysqlValues } from './mysql-check.ts';
import { checkMysqlPrivileges } from './mysql-privileges.ts';
import { gateSource, type SourceDriver } from './read-gate.ts';
import { type SessionControl, STOP_STEP_MS, sessionStops, trackRead } from './session-stop.ts';
import { mysqlTls, type SourceTls } from './tls.ts';
import {
  type BoundQuery,
  type Column,
  type ColumnType,
  connectionLost,
  instantOrText,
  type Row,
  type RowStream,
  type Source,
  SourceConnectError,
  SourceQueryError,
  type TableInfo,
  type Value,
} from './types.ts';

export interface MysqlSourceOptions {
  /** Ferry's own URLs only (tests): host, port, user, password and database are read from it, its query never. */
  uri?: string;
  host?: string;
  /** A unix socket instead of host and port (only where the operator allows them). */
  socketPath?: string;
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  /** TLS mode and PEM material. Absent: no TLS. */
  tls?: SourceTls;
  /** The connection's utf8mb4 collation (default utf8mb4_unicode_ci). */
  charset?: string;
  connectTimeoutMs?: number;
  maxConnections?: number;
  /** How long a stopped session may take to leave the server before it is killed (tests shorten it). */
  stopGraceMs?: number;
}

interface FieldMeta {
  name: string;
  columnType: number;
  characterSet: number;
  columnLength: number;
}

const BINARY_CHARSET = 63;

// MySQL protocol column type codes → Ferry types.
function mysqlColumnType(f: FieldMeta): { type: ColumnType; name: string } {
  switch (f.columnType) {
    case 0:
    case 246:
      return { type: 'decimal', name: 'decimal' };
    case 1:
      return f.columnLength === 1
        ? { type: 'boolean', name: 'tinyint(1)' }
        : { type: 'integer', name: 'tinyint' };
    case 2:
      return { type: 'integer', name: 'smallint' };
    case 3:
      return { type: 'integer', name: 'int' };
    case 9:
      return { type: 'integer', name: 'mediumint' };
    case 13:
      return { type: 'integer', name: 'year' };
    case 8:
      return { type: 'bigint', name: 'bigint' };
    case 4:
      return { type: 'float', name: 'float' };
    case 5:
      return { type: 'float', name: 'double' };
    case 7:
      return { type: 'timestamptz', name: 'timestamp' };
    case 10:
    case 14:
      return { type: 'date', name: 'date' };
    case 11:
      return { type: 'time', name: 'time' };
    case 12:
      return { type: 'timestamp', name: 'datetime' };
    case 245:
      return { type: 'json', name: 'json' };
    case 16:
      return { type: 'bytes', name: 'bit' };
    case 249:
    case 250:
    case 251:
    case 252:
    case 253:
    case 254:
    case 15:
      return f.characterSet === BINARY_CHARSET
        ? { type: 'bytes', name: 'binary' }
        : { type: 'string', name: f.columnType === 252 || f.columnType >= 249 ? 'text' : 'varchar' };
    default:
      return { type: 'string', name: `type:${f.columnType}` };
  }
}

// Every value is read raw (text or bytes) and converted here, so types are exact
// and do not depend on driver options or the server's time zone.
function convert(type: ColumnType, raw: string | Buffer | null): Value {
  if (raw === null) return null;
  if (type === 'bytes') return Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'latin1');
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
  switch (type) {
    case 'boolean':
      return text !== '0';
    case 'integer':
    case 'float':
      return Number(text);
    case 'bigint':
      return BigInt(text);
    case 'date':
      return text;
    case 'timestamp':
      return text.replace(' ', 'T');
    case 'timestamptz':
      // The session runs in UTC (time_zone = '+00:00').
      return instantOrText(`${text.replace(' ', 'T')}Z`, text);
    case 'json':
      return JSON.parse(text) as object;
    default:
      return text;
  }
}

const rawCast = (field: { type: string; buffer(): Buffer | null; string(): string | null }) =>
  /BLOB|BIT|GEOMETRY|STRING/.test(field.type) ? field.buffer() : field.string();

function toSourceError(err: unknown): Error {
  const e = err as { message?: string; code?: string; errno?: number; sqlMessage?: string };
  if (
    e?.code &&
    /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EPIPE|PROTOCOL_CONNECTION_LOST|ER_CONNECTION_KILLED|ER_SERVER_SHUTDOWN|ER_NORMAL_SHUTDOWN|ER_ACCESS_DENIED_ERROR|ER_BAD_DB_ERROR|ER_DBACCESS_DENIED_ERROR|ER_CON_COUNT_ERROR)$/.test(
      e.code,
    )
  ) {
    return new SourceConnectError(e.sqlMessage ?? e.message ?? 'connection failed', err);
  }
  if (e?.errno !== undefined)
    return new SourceQueryError(e.sqlMessage ?? e.message ?? 'query failed', { code: e.code, cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

const driver = lazyModule<typeof mysql>('mysql2');

/** An error the server sent for the statement: the connection itself is fine. */
function isStatementError(err: unknown): boolean {
  const e = err as { errno?: number; fatal?: boolean } | null;
  return e?.errno !== undefined && !e.fatal;
}

/**
 * Out of the pool, with the socket destroyed at once: mysql2's destroy() only
 * half-closes it, which a server that does not answer never completes.
 */
function dropConnection(conn: mysql.PoolConnection): void {
  conn.destroy();
  socketOf(conn)?.destroy();
}

const socketOf = (conn: mysql.PoolConnection): Socket | undefined =>
  (conn as unknown as { stream?: Socket }).stream;

/** A MySQL or MariaDB source; its reads pass the gate of read-gate.ts. */
export function createMysqlSource(options: MysqlSourceOptions): Source {
  return gateSource(mysqlDriver(options));
}

/** Its reads take what checkRead returns: the SQL with the values written in as literals. */
function mysqlDriver(options: MysqlSourceOptions): SourceDriver<string> {
  // mysql2 would take a URI's query as options (multipleStatements, debug, flags…): only its parts are read.
  const uri = options.uri ? new URL(options.uri) : undefined;
  const part = (text: string | undefined) => (text ? decodeURIComponent(text) : undefined);
  const connection: mysql.ConnectionOptions = {
    host: options.host ?? part(uri?.hostname.replace(/^\[(.*)\]$/, '$1')),
    port: options.port ?? (uri?.port ? Number(uri.port) : undefined),
    database: options.database ?? part(uri?.pathname.slice(1)),
    user: options.user ?? part(uri?.username),
    password: options.password ?? part(uri?.password),
    ...(options.socketPath ? { socketPath: options.socketPath } : {}),
    ...(options.charset ? { charset: options.charset } : {}),
    ssl: options.tls ? mysqlTls(options.tls) : undefined,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    // Ferry's own settings, which nothing above can change: one statement per
    // query, no LOCAL INFILE (the server cannot ask for Ferry's files), no packet log.
    multipleStatements: false,
    flags: ['-MULTI_STATEMENTS', '-LOCAL_FILES'],
    infileStreamFactory: undefined,
    debug: false,
    dateStrings: true,
    timezone: 'Z',
  };
  const pool = driver().createPool({
    ...connection,
    connectionLimit: options.maxConnections ?? 4,
    maxIdle: 1,
    idleTimeout: 60_000,
  });
  // A pool connection hears only its first 'error' (once); a second one (a write
  // after the server closed it) would end the process. Reads learn of a lost
  // connection through their session (openSession).
  pool.on('connection', (conn) => conn.on('error', () => {}));
  const stops = sessionStops(options.stopGraceMs);
  /** Every read in progress, by the function that stops it (close() stops them all). */
  const reading = new Set<() => void>();

  /** One statement on a connection of its own, best effort (KILL QUERY, KILL CONNECTION). */
  const onOwnConnection = (sql: string) =>
    new Promise<void>((resolve) => {
      const c = driver().createConnection({ ...connection, connectTimeout: STOP_STEP_MS });
      c.on('error', () => {});
      c.query(sql, () => {
        c.destroy();
        resolve();
      });
    });
  const control = (conn: mysql.PoolConnection): SessionControl => {
    const id = Number(conn.threadId);
    return {
      cancel: () => onOwnConnection(`KILL QUERY ${id}`),
      close: () => dropConnection(conn),
      // Thread ids come from a counter, never reused soon: one that has gone answers "unknown thread".
      terminate: () => onOwnConnection(`KILL CONNECTION ${id}`),
    };
  };
  let isMariaDb: boolean | undefined;

  const connect = (): Promise<mysql.PoolConnection> =>
    new Promise((resolve, reject) =>
      pool.getConnection((err, conn) => (err ? reject(toSourceError(err)) : resolve(conn))),
    );
  const run = (conn: mysql.PoolConnection, sql: string, values: unknown[] = []) =>
    new Promise<unknown[]>((resolve, reject) =>
      conn.query(sql, values, (err, rows) => (err ? reject(toSourceError(err)) : resolve(rows as unknown[]))),
    );

  let sqlMode: string | undefined;

  // One round trip for the settings, none of them user text. sql_mode keeps the
  // server's own flags except those that change how text is lexed: Ferry's
  // checks read "…" as a string and a backslash as an escape.
  const beginReadOnly = async (conn: mysql.PoolConnection, timeoutMs: number) => {
    if (isMariaDb === undefined || sqlMode === undefined) {
      const v = (await run(conn, 'SELECT VERSION() AS v, @@GLOBAL.sql_mode AS m')) as Array<{
        v: string;
        m: string;
      }>;
      isMariaDb = /mariadb/i.test(v[0]!.v);
      sqlMode = safeSqlMode(v[0]!.m);
    }
    // MariaDB limits statements in seconds, MySQL in milliseconds (SELECT only).
    const timeout = isMariaDb
      ? `max_statement_time = ${timeoutMs / 1000}`
      : `max_execution_time = ${Math.floor(timeoutMs)}`;
    await run(conn, `SET SESSION time_zone = '+00:00', SESSION sql_mode = '${sqlMode}', SESSION ${timeout}`);
    await run(conn, 'START TRANSACTION READ ONLY');
  };

  /**
   * A connection checked out for one read. Aborting the signal, more than
   * `maxBytes` arriving, the connection going, or an error that may leave the
   * statement running stops the session (session-stop.ts).
   */
  const openSession = async (signal: AbortSignal, maxBytes: number) => {
    const conn = await connect();
    if (signal.aborted) {
      conn.release();
      throw signal.reason;
    }
    const read = trackRead({
      signal,
      stops,
      session: control(conn),
      connection: conn,
      lost: (err) => connectionLost(toSourceError(err ?? new Error('The server closed the connection'))),
      socket: socketOf(conn),
      maxBytes,
      reading,
    });
    return {
      conn,
      whileOpen: read.whileOpen,
      onStop: read.onStop,
      /** Read to the end: ROLLBACK and give the connection back. Stopped early: dropped (the server stops at its next write). */
      finish(complete: boolean) {
        if (!read.end()) return;
        if (complete) conn.query('ROLLBACK', (err) => (err ? dropConnection(conn) : conn.release()));
        else dropConnection(conn);
      },
      /** What the read fails with; the session is stopped unless the server only refused the statement. */
      fail(err: unknown): unknown {
        if (!read.ended) {
          if (isStatementError(err) && !signal.aborted) {
            read.end();
            dropConnection(conn);
          } else read.stop(toSourceError(err));
        }
        return signal.aborted ? signal.reason : (read.stoppedBy ?? toSourceError(err));
      },
    };
  };

  return {
    dialect: 'mysql',
    async test() {
      const conn = await connect();
      try {
        await beginReadOnly(conn, 10_000);
        const v = (await run(conn, 'SELECT VERSION() AS v')) as Array<{ v: string }>;
        await run(conn, 'ROLLBACK');
        return { version: `${isMariaDb ? 'MariaDB' : 'MySQL'} ${v[0]!.v}` };
      } finally {
        conn.release();
      }
    },

    // Whoever calls, only a single read statement reaches the database. Values
    // become literals where the server's lexer sees each ?, and the whole is checked.
    checkRead(query: BoundQuery): string {
      const sql = inlineMysqlValues(query.sql, query.values);
      checkMysqlReadOnly(sql);
      return sql;
    },

    async readRows(sql, signal, { timeoutMs, batchSize, maxBytes }): Promise<RowStream> {
      const session = await openSession(signal, maxBytes);
      const { conn } = session;
      let fields: FieldMeta[];
      let stream: Readable;
      try {
        await session.whileOpen(beginReadOnly(conn, timeoutMs));
        const q = conn.query({ sql, rowsAsArray: true, typeCast: rawCast as never });
        // The stream must exist before rows arrive; it holds them until read (backpressure pauses the socket).
        stream = q.stream({ highWaterMark: batchSize });
        stream.on('error', () => {});
        session.onStop((reason) => stream.destroy(reason as Error));
        fields = await session.whileOpen(
          new Promise<FieldMeta[]>((resolve, reject) => {
            q.once('fields', (f: FieldMeta[]) => resolve(f));
            q.once('error', (err) => reject(err));
            // A statement without a result set (refused earlier) would never send fields.
            q.once('end', () => resolve([]));
          }),
        );
      } catch (err) {
        throw session.fail(err);
      }
      const types = fields.map(mysqlColumnType);
      const columns: Column[] = fields.map((f, i) => ({
        name: f.name,
        type: types[i]!.type,
        dbType: types[i]!.name,
      }));
      async function* batches(): AsyncGenerator<Row[]> {
        let batch: Row[] = [];
        try {
          for await (const raw of stream as AsyncIterable<Array<string | Buffer | null>>) {
            batch.push(raw.map((v, i) => convert(types[i]!.type, v)));
            if (batch.length >= batchSize) {
              yield batch;
              batch = [];
              signal.throwIfAborted();
            }
          }
          if (batch.length > 0) yield batch;
        } catch (err) {
          throw session.fail(err);
        } finally {
          session.finish(stream.readableEnded);
        }
      }
      return { columns, batches: batches(), close: async () => session.finish(stream.readableEnded) };
    },

    async listTables(): Promise<TableInfo[]> {
      const conn = await connect();
      try {
        const rows = (await run(
          conn,
          `SELECT c.TABLE_NAME AS t, t.TABLE_TYPE AS kind, c.COLUMN_NAME AS col, c.COLUMN_TYPE AS type, c.DATA_TYPE AS dt, c.IS_NULLABLE AS nullable
             FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
            WHERE c.TABLE_SCHEMA = DATABASE() ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
        )) as Array<{ t: string; kind: string; col: string; type: string; dt: string; nullable: string }>;
        const tables = new Map<string, TableInfo>();
        for (const r of rows) {
          let t = tables.get(r.t);
          if (!t) {
            t = { schema: null, name: r.t, kind: r.kind === 'VIEW' ? 'view' : 'table', columns: [] };
            tables.set(r.t, t);
          }
          t.columns.push({
            name: r.col,
            type: declaredMysqlType(r.type, r.dt),
            dbType: r.type,
            nullable: r.nullable === 'YES',
          });
        }
        return [...tables.values()];
      } finally {
        conn.release();
      }
    },

    async privileges() {
      const conn = await connect();
      try {
        const v = (await run(conn, 'SELECT VERSION() AS v')) as Array<{ v: string }>;
        return await checkMysqlPrivileges((sql) => run(conn, sql), /mariadb/i.test(v[0]!.v));
      } finally {
        conn.release();
      }
    },

    async close() {
      // Shutdown (or a connection's new settings): reads still running are stopped
      // on the server, and their sessions ended at once rather than after the grace.
      for (const stop of [...reading]) stop();
      await stops.flush();
      await new Promise<void>((resolve) => pool.end(() => resolve()));
    },
  };
}

// Modes that change the lexer: "…" as a name, no backslash escapes, or another
// dialect's parser altogether (MariaDB's ORACLE and MSSQL modes).
const LEXING_MODES = new Set([
  'ANSI',
  'ANSI_QUOTES',
  'NO_BACKSLASH_ESCAPES',
  'ORACLE',
  'MSSQL',
  'DB2',
  'POSTGRESQL',
  'MAXDB',
  'MYSQL323',
  'MYSQL40',
]);

export function safeSqlMode(serverMode: string): string {
  return serverMode
    .split(',')
    .filter((m) => /^[A-Z0-9_]+$/.test(m) && !LEXING_MODES.has(m))
    .join(',');
}

function declaredMysqlType(columnType: string, dataType: string): ColumnType {
  const t = dataType.toLowerCase();
  if (columnType.toLowerCase() === 'tinyint(1)') return 'boolean';
  if (t === 'bigint') return 'bigint';
  if (/int|year/.test(t)) return 'integer';
  if (t === 'decimal') return 'decimal';
  if (t === 'float' || t === 'double') return 'float';
  if (t === 'date') return 'date';
  if (t === 'datetime') return 'timestamp';
  if (t === 'timestamp') return 'timestamptz';
  if (t === 'time') return 'time';
  if (t === 'json') return 'json';
  if (/blob|binary|bit/.test(t)) return 'bytes';
  return 'string';
}
