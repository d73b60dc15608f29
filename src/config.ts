import { resolve } from 'node:path';

// The only reader of process.env. Everything is validated at once and every
// problem is listed, each naming its variable; the result is frozen and passed down.

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  user: string | undefined;
  password: string | undefined;
  from: string;
}

export interface S3Config {
  bucket: string;
  region: string;
  endpoint: string | undefined;
  forcePathStyle: boolean;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  prefix: string;
  serverSideEncryption: 'AES256' | 'aws:kms' | undefined;
}

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  databasePoolMax: number;
  dataDir: string;
  /** Without DATABASE_URL, when Ferry runs as root: the OS user the embedded PostgreSQL runs as. */
  embeddedPgUser: string | undefined;
  /** Undefined only on the embedded database before the generated one is loaded. */
  secret: string | undefined;
  publicUrl: string;
  logLevel: LogLevel;
  trustProxy: boolean;
  sessionTtlHours: number;
  /** How long a member invitation's link stays valid. */
  invitationTtlHours: number;
  rateLimitAnonymous: number;
  rateLimitAuthenticated: number;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  smtp: SmtpConfig | undefined;
  /** SQLite connections may only open files inside this directory. */
  sqliteDir: string;
  /** PostgreSQL/MySQL connections may use unix sockets on the Ferry host (off: TCP only). */
  allowSockets: boolean;
  /** Sales lines in the demo dataset when it is first built. */
  demoRows: number;
  workerConcurrency: number;
  artifactTtlDays: number;
  maxExportRows: number;
  maxExportBytes: number;
  maxRunSeconds: number;
  /** A report preview is stopped (on the source server too) after this long. */
  previewSeconds: number;
  /** A running attempt silent for this long is declared lost and retried (S9). */
  runLeaseSeconds: number;
  /** Runs of one tenant that may execute at once across all workers (S11). */
  tenantConcurrency: number;
  /** Finished runs are kept this long, then deleted with their files (S13). */
  runRetentionDays: number;
  /** How often the scheduler looks for due schedules at most, when none is due sooner. */
  schedulerIntervalMs: number;
  /** Run event streams (server-sent events) one user or API key may hold open at once, per API process. */
  maxEventStreams: number;
  /** Deliveries: hosts, addresses or CIDR ranges that may be private (loopback, LAN); empty refuses every private address. */
  deliveryAllowPrivate: string[];
  /** Deliveries: one request to a peer may take this long. */
  deliveryTimeoutSeconds: number;
  /** Where export files go: the data directory, or an S3(-compatible) bucket. */
  storage: { kind: 'local' } | ({ kind: 's3' } & S3Config);
}

export interface ConfigOverrides {
  port?: number | undefined;
  dataDir?: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

function readInt(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    problems.push(`${name} must be a whole number between ${min} and ${max} (got "${raw}")`);
    return fallback;
  }
  const value = Number(raw);
  if (value < min || value > max) {
    problems.push(`${name} must be between ${min} and ${max} (got ${value})`);
  }
  return value;
}

function readBool(env: Env, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  problems.push(`${name} must be true or false (got "${env[name]}")`);
  return fallback;
}

function readUrl(env: Env, name: string, protocols: string[], problems: string[]): URL | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const url = new URL(raw);
    if (!protocols.includes(url.protocol)) {
      problems.push(
        `${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')} (got "${url.protocol}")`,
      );
      return undefined;
    }
    return url;
  } catch {
    problems.push(`${name} is not a valid URL`);
    return undefined;
  }
}

function readSmtp(env: Env, problems: string[]): SmtpConfig | undefined {
  const host = env['SMTP_HOST'];
  if (host === undefined || host === '') {
    for (const name of ['SMTP_PORT', 'SMTP_USER', 'SMTP_PASSWORD', 'SMTP_FROM', 'SMTP_SECURE']) {
      if (env[name]) problems.push(`${name} is set but SMTP_HOST is not`);
    }
    return undefined;
  }
  const secure = readBool(env, 'SMTP_SECURE', false, problems);
  const port = readInt(env, 'SMTP_PORT', secure ? 465 : 587, 1, 65535, problems);
  const from = env['SMTP_FROM'] ?? '';
  if (!/^[^@\s<>]+@[^@\s<>]+$|<[^@\s<>]+@[^@\s<>]+>$/.test(from)) {
    problems.push(
      'SMTP_FROM must be an e-mail address such as "Ferry <ferry@example.com>" when SMTP_HOST is set',
    );
  }
  const user = env['SMTP_USER'] || undefined;
  const password = env['SMTP_PASSWORD'] || undefined;
  if ((user === undefined) !== (password === undefined)) {
    problems.push('SMTP_USER and SMTP_PASSWORD must be set together');
  }
  return { host, port, secure, user, password, from };
}

// It guards /metrics, which is not rate limited (scrapers poll it), so it must be
// too long to guess.
function readMetricsToken(env: Env, problems: string[]): string | undefined {
  const token = env['FERRY_METRICS_TOKEN'] || undefined;
  if (token !== undefined && !/^[\x21-\x7e]{16,500}$/.test(token))
    problems.push(
      'FERRY_METRICS_TOKEN must be 16 to 500 printable characters without spaces (e.g. `openssl rand -hex 32`)',
    );
  return token;
}

function readStorage(env: Env, problems: string[]): Config['storage'] {
  const kind = env['FERRY_STORAGE'] || 'local';
  if (kind === 'local') {
    for (const name of ['S3_BUCKET', 'S3_ENDPOINT'])
      if (env[name]) problems.push(`${name} is set but FERRY_STORAGE is not "s3"`);
    return { kind: 'local' };
  }
  if (kind !== 's3') {
    problems.push(`FERRY_STORAGE must be "local" or "s3" (got "${kind}")`);
    return { kind: 'local' };
  }
  const bucket = env['S3_BUCKET'] ?? '';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    problems.push(
      'S3_BUCKET must be a bucket name (3 to 63 lower-case letters, digits, dots and dashes) with FERRY_STORAGE=s3',
    );
  const endpoint = readUrl(env, 'S3_ENDPOINT', ['http:', 'https:'], problems)?.toString();
  const accessKeyId = env['S3_ACCESS_KEY_ID'] || undefined;
  const secretAccessKey = env['S3_SECRET_ACCESS_KEY'] || undefined;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  const sse = env['S3_SSE'] || undefined;
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms')
    problems.push(`S3_SSE must be AES256 or aws:kms (got "${sse}")`);
  const prefix = env['S3_PREFIX'] ?? '';
  return {
    kind: 's3',
    bucket,
    region: env['S3_REGION'] || 'us-east-1',
    endpoint,
    forcePathStyle: readBool(env, 'S3_FORCE_PATH_STYLE', endpoint !== undefined, problems),
    accessKeyId,
    secretAccessKey,
    prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix,
    serverSideEncryption: sse as 'AES256' | 'aws:kms' | undefined,
  };
}

export function loadConfig(env: Env, overrides: ConfigOverrides = {}, cwd = process.cwd()): Readonly<Config> {
  const problems: string[] = [];
  const port = overrides.port ?? readInt(env, 'PORT', 8080, 1, 65535, problems);
  const databaseUrl = readUrl(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], problems);
  const secret = env['FERRY_SECRET'] || undefined;
  if (secret !== undefined && secret.length < 32) {
    problems.push('FERRY_SECRET must be at least 32 characters (e.g. `openssl rand -base64 48`)');
  }
  if (databaseUrl && secret === undefined) {
    problems.push('FERRY_SECRET is required with DATABASE_URL: every process must share the same secret');
  }
  const logLevel = (env['LOG_LEVEL'] || 'info') as LogLevel;
  if (!logLevels.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${logLevels.join(', ')} (got "${env['LOG_LEVEL']}")`);
  }
  const publicUrl = readUrl(env, 'PUBLIC_URL', ['http:', 'https:'], problems);
  const config: Config = {
    port,
    host: env['HOST'] || '0.0.0.0',
    databaseUrl: databaseUrl?.toString(),
    databasePoolMax: readInt(env, 'DATABASE_POOL_MAX', 10, 1, 1000, problems),
    dataDir: resolve(cwd, overrides.dataDir ?? (env['FERRY_DATA_DIR'] || '.ferry')),
    embeddedPgUser: env['FERRY_EMBEDDED_PG_USER'] || undefined,
    secret,
    publicUrl: (publicUrl?.toString() ?? `http://localhost:${port}/`).replace(/\/+$/, ''),
    logLevel,
    trustProxy: readBool(env, 'FERRY_TRUST_PROXY', false, problems),
    sessionTtlHours: readInt(env, 'FERRY_SESSION_TTL_HOURS', 168, 1, 24 * 365, problems),
    invitationTtlHours: readInt(env, 'FERRY_INVITATION_TTL_HOURS', 72, 1, 24 * 30, problems),
    rateLimitAnonymous: readInt(env, 'FERRY_RATE_LIMIT_ANONYMOUS', 100, 1, 1_000_000, problems),
    rateLimitAuthenticated: readInt(env, 'FERRY_RATE_LIMIT_AUTHENTICATED', 5000, 1, 10_000_000, problems),
    metricsToken: readMetricsToken(env, problems),
    smtp: readSmtp(env, problems),
    sqliteDir: '',
    allowSockets: readBool(env, 'FERRY_ALLOW_SOCKETS', false, problems),
    demoRows: readInt(env, 'FERRY_DEMO_ROWS', 200_000, 100, 100_000_000, problems),
    workerConcurrency: readInt(env, 'FERRY_WORKER_CONCURRENCY', 2, 1, 64, problems),
    artifactTtlDays: readInt(env, 'FERRY_ARTIFACT_TTL_DAYS', 7, 1, 3650, problems),
    maxExportRows: readInt(env, 'FERRY_MAX_EXPORT_ROWS', 50_000_000, 1, 10_000_000_000, problems),
    maxExportBytes: readInt(env, 'FERRY_MAX_EXPORT_MB', 10_240, 1, 10_000_000, problems) * 1_000_000,
    maxRunSeconds: readInt(env, 'FERRY_MAX_RUN_SECONDS', 3_600, 1, 7 * 86_400, problems),
    previewSeconds: readInt(env, 'FERRY_PREVIEW_SECONDS', 30, 1, 3_600, problems),
    // At least three heartbeats (every 2 s) fit in a lease.
    runLeaseSeconds: readInt(env, 'FERRY_RUN_LEASE_SECONDS', 30, 6, 3_600, problems),
    tenantConcurrency: readInt(env, 'FERRY_TENANT_CONCURRENCY', 4, 1, 1_000, problems),
    runRetentionDays: readInt(env, 'FERRY_RUN_RETENTION_DAYS', 90, 1, 36_500, problems),
    schedulerIntervalMs: readInt(env, 'FERRY_SCHEDULER_INTERVAL_MS', 1_000, 50, 60_000, problems),
    maxEventStreams: readInt(env, 'FERRY_MAX_EVENT_STREAMS', 20, 1, 10_000, problems),
    deliveryAllowPrivate: (env['FERRY_DELIVERY_ALLOW_PRIVATE'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    deliveryTimeoutSeconds: readInt(env, 'FERRY_DELIVERY_TIMEOUT_SECONDS', 30, 1, 3_600, problems),
    storage: readStorage(env, problems),
  };
  config.sqliteDir = resolve(cwd, env['FERRY_SQLITE_DIR'] || resolve(config.dataDir, 'sqlite'));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
