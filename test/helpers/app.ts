import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type AppContext, createContext } from '../../src/app/context.ts';
import { loadConfig } from '../../src/config.ts';
import type { QueueRole } from '../../src/jobs/queue.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/log.ts';
import type { Role } from '../../src/modules/members/roles.ts';
import { setupToken } from '../../src/modules/setup/service.ts';
import { buildServer } from '../../src/server/build-server.ts';
import type { App } from '../../src/server/types.ts';
import { type Backend, backends, createTestDatabase, TEST_SECRET, type TestDatabase } from './db.ts';

export interface TestApp {
  app: App;
  ctx: AppContext;
  database: TestDatabase;
  /** Every log line written while the app ran (JSON). */
  logs: string[];
  close(): Promise<void>;
}

export interface TestAppOptions {
  roles?: QueueRole[];
  clock?: Clock;
  env?: Record<string, string>;
}

export async function createTestApp(
  backend: Backend = backends()[0]!,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const database = await createTestDatabase(backend);
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-test-'));
  const config = loadConfig({
    FERRY_SECRET: TEST_SECRET,
    FERRY_DATA_DIR: dataDir,
    FERRY_RATE_LIMIT_ANONYMOUS: '1000000',
    FERRY_RATE_LIMIT_AUTHENTICATED: '1000000',
    LOG_LEVEL: 'info',
    DATABASE_URL: database.url,
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const log = createLogger(config.logLevel, sink);
  const ctx = await createContext(config, {
    roles: new Set(options.roles ?? ['api']),
    log,
    ...(options.clock ? { clock: options.clock } : {}),
    database,
  });
  const app = await buildServer(ctx);
  await app.ready();
  return {
    app,
    ctx,
    database,
    logs,
    async close() {
      await app.close();
      await ctx.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: a parsed JSON response that tests inspect field by field
  body: any;
  text: string;
}

export interface Call {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  key?: string;
  cookie?: string;
  body?: unknown;
  payload?: string;
  headers?: Record<string, string>;
  /** The client address the server sees (rate limits are per address). */
  remoteAddress?: string;
}

export async function call(t: TestApp, c: Call): Promise<Reply> {
  const headers: Record<string, string> = { ...c.headers };
  if (c.key) headers['authorization'] = `Bearer ${c.key}`;
  if (c.cookie) headers['cookie'] = c.cookie;
  const response = await t.app.inject({
    method: c.method ?? 'GET',
    url: c.url,
    headers,
    ...(c.remoteAddress ? { remoteAddress: c.remoteAddress } : {}),
    ...(c.body !== undefined ? { payload: c.body as object } : {}),
    ...(c.payload !== undefined ? { payload: c.payload } : {}),
  });
  let body: Reply['body'];
  try {
    body = response.body ? JSON.parse(response.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.statusCode, headers: response.headers, body, text: response.body };
}

/** A report made from a built-in template on the demo data (201, or the test fails with the answer). */
export async function reportFromTemplate(
  t: TestApp,
  apiKey: string,
  template: string,
  body: object = {},
): Promise<Reply> {
  const r = await call(t, { method: 'POST', url: `/api/v1/templates/${template}/use`, key: apiKey, body });
  if (r.status !== 201) throw new Error(`using template ${template}: ${r.status} ${r.text}`);
  return r;
}

export interface TenantHandle {
  tenantId: string;
  userId: string;
  apiKey: string;
  email: string;
  password: string;
}

export const OWNER_PASSWORD = 'correct horse battery';

/** First-run setup: the instance's first tenant, whose owner is an instance admin. */
export async function setupFirstTenant(t: TestApp, email = 'owner@example.com'): Promise<TenantHandle> {
  const r = await call(t, {
    method: 'POST',
    url: '/api/v1/setup',
    body: {
      setupToken: setupToken(t.ctx.secrets),
      tenantName: 'First tenant',
      email,
      password: OWNER_PASSWORD,
    },
  });
  if (r.status !== 201) throw new Error(`setup failed: ${r.status} ${r.text}`);
  return { ...r.body, email, password: OWNER_PASSWORD };
}

/** Another tenant, created by an instance admin. */
export async function createTenant(
  t: TestApp,
  adminKey: string,
  name: string,
  email: string,
): Promise<TenantHandle> {
  const r = await call(t, {
    method: 'POST',
    url: '/api/v1/admin/tenants',
    key: adminKey,
    body: { name, ownerEmail: email, ownerPassword: OWNER_PASSWORD },
  });
  if (r.status !== 201) throw new Error(`tenant creation failed: ${r.status} ${r.text}`);
  return { ...r.body, email, password: OWNER_PASSWORD };
}

export async function createKey(t: TestApp, ownerKey: string, role: Role): Promise<string> {
  const r = await call(t, {
    method: 'POST',
    url: '/api/v1/api-keys',
    key: ownerKey,
    body: { name: `${role} key`, role },
  });
  if (r.status !== 201) throw new Error(`key creation failed: ${r.status} ${r.text}`);
  return r.body.apiKey;
}

/** Signs in and returns the Cookie header value to send back. */
export async function loginCookie(t: TestApp, email: string, password: string): Promise<string> {
  const r = await call(t, { method: 'POST', url: '/api/v1/auth/login', body: { email, password } });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] as string | string[]);
  return setCookie.map((c) => c.split(';')[0]).join('; ');
}
