import childProcess, { ChildProcess } from 'node:child_process';
import module from 'node:module';
import net from 'node:net';
import { basename } from 'node:path';

// Test tiers, by the test file's name (npm run test:<tier> runs one; npm test all):
//
//   name.test.ts          unit: code alone, in this process (in-process peers such as an
//                         SMTP or S3 server are fine); no database, no child process
//   name.db.test.ts       also databases: the test PostgreSQL and MariaDB, SQLite sources,
//                         Ferry's app in this process (createTestApp)
//   name.process.test.ts  also child processes: `ferry`, an embedded PostgreSQL of its own,
//                         other programs
//   name.web.test.ts      also Chromium, driving a running Ferry
//
// A file takes the name of the most it needs. Unit files run without the test
// database being set up at all (npm run test:unit).
//
// A test file that uses more than its name says fails at once, saying which name
// it needs: guardTier() (loaded into every test process by the npm test scripts)
// refuses database connections in unit files and child processes in unit and db
// files (but a db file's databases may run in child processes: the embedded
// PostgreSQL, the SQLite source's reader); the database helpers refuse unit
// files themselves.

export type Tier = 'unit' | 'db' | 'process' | 'web';
const order: Tier[] = ['unit', 'db', 'process', 'web'];

/** The tier a test file's name puts it in; undefined when the file is not a test file. */
export function tierOf(file: string | undefined): Tier | undefined {
  if (!file?.endsWith('.test.ts')) return undefined;
  const suffix = /\.(db|process|web)\.test\.ts$/.exec(file)?.[1];
  return (suffix as Tier | undefined) ?? 'unit';
}

/**
 * The tier of the test file this process runs: undefined outside a test file's
 * own process (the runner and its global setup, scripts). The runner marks the
 * processes it starts for test files with NODE_TEST_CONTEXT.
 */
export const currentTier = process.env['NODE_TEST_CONTEXT']?.startsWith('child')
  ? tierOf(process.argv[1])
  : undefined;

class TierError extends Error {
  constructor(needs: Tier, what: string) {
    const file = basename(process.argv[1] ?? '');
    const renamed = file.replace(
      /(\.(db|process|web))?\.test\.ts$/,
      needs === 'unit' ? '.test.ts' : `.${needs}.test.ts`,
    );
    super(
      `${file} is a ${currentTier} test (by its name) but ${what}: that makes it a ${needs} test. Rename it to ${renamed} (see test/helpers/tiers.ts).`,
    );
    this.name = 'TierError';
    endSoonAfter(this);
  }
}

let ending = false;

/**
 * A test that failed this way may leave behind what keeps its process alive (a
 * pool, a server its failed setup never closed): the run would wait for it
 * forever. The process ends shortly after the first such failure, once the
 * runner has had time to report it.
 */
function endSoonAfter(error: TierError): void {
  if (ending) return;
  ending = true;
  setTimeout(() => {
    process.stderr.write(`${error.message}\nEnding this test process, which the failure left running.\n`);
    process.exit(1);
  }, 10_000).unref();
}

/** Throws unless the current test file's tier includes `needs` (outside test files: allowed). */
export function requireTier(needs: Tier, what: string): void {
  if (currentTier && order.indexOf(currentTier) < order.indexOf(needs)) throw new TierError(needs, what);
}

// The database servers' addresses: their usual ports, the ones the tests are
// given, and PostgreSQL's and MySQL's unix sockets.
const databasePorts = new Set(
  [5432, 3306, portOf(process.env['TEST_DATABASE_URL']), portOf(process.env['TEST_MYSQL_URL'])].filter(
    (p): p is number => p !== undefined,
  ),
);
const databaseSocket = /(\.s\.PGSQL\.\d+|mysqld?\.sock)$/;

function portOf(url: string | undefined): number | undefined {
  if (!url) return undefined;
  const port = Number(new URL(url).port);
  return port > 0 ? port : undefined;
}

/** Where a socket.connect() call goes: a port, or a unix socket path. */
function target(args: unknown[]): { port?: number; path?: string } {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const o = first as { port?: unknown; path?: unknown };
    return typeof o.path === 'string' ? { path: o.path } : { port: Number(o.port) };
  }
  return typeof first === 'string' && Number.isNaN(Number(first)) ? { path: first } : { port: Number(first) };
}

function refuseDatabaseConnections(): void {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const to = target(args);
    if ((to.port !== undefined && databasePorts.has(to.port)) || (to.path && databaseSocket.test(to.path)))
      throw new TierError('db', `it connects to a database server (${to.path ?? `port ${to.port}`})`);
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
}

/**
 * The tier a child process belongs to. Two are databases rather than programs:
 * the embedded PostgreSQL's own binaries (which the test database helpers start
 * or probe) and Ferry's SQLite worker (the SQLite source reads in a child process).
 */
function tierOfChild(command: string, args: readonly string[]): { tier: Tier; what: string } {
  if (/[\\/](postgres|initdb)(\.exe)?$/.test(command))
    return { tier: 'db', what: 'it uses the embedded PostgreSQL' };
  if (args.some((a) => /[\\/]sqlite-worker\.ts$/.test(a)))
    return { tier: 'db', what: "it reads a SQLite database (through the SQLite source's child process)" };
  return { tier: 'process', what: `it starts a child process (${command})` };
}

/** Refuses child processes above `tier`. */
function refuseChildProcesses(tier: Tier): void {
  const check = (command: string, args: readonly string[]) => {
    const child = tierOfChild(command, args);
    if (order.indexOf(child.tier) > order.indexOf(tier)) throw new TierError(child.tier, child.what);
  };
  // Every asynchronous way (spawn, exec, execFile, fork) goes through this method.
  const proto = ChildProcess.prototype as unknown as {
    spawn(options: { file: string; args?: string[] }): unknown;
  };
  const spawn = proto.spawn;
  proto.spawn = function (this: ChildProcess, options: { file: string; args?: string[] }) {
    check(options.file, options.args ?? []);
    return spawn.call(this, options);
  };
  for (const name of ['spawnSync', 'execSync', 'execFileSync'] as const) {
    const original = childProcess[name] as (...a: unknown[]) => unknown;
    (childProcess as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      check(String(args[0]).split(' ')[0]!, Array.isArray(args[1]) ? args[1].map(String) : []);
      return original(...args);
    };
  }
  // ESM imports of node:child_process see the replaced functions too.
  module.syncBuiltinESMExports();
}

/** Installs the guards for the current test file's tier. */
export function guardTier(): void {
  if (currentTier === 'unit') {
    refuseDatabaseConnections();
    refuseChildProcesses('unit');
  } else if (currentTier === 'db') {
    refuseChildProcesses('db');
  }
}
