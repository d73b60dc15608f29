import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import pg from 'pg';
import { type AppContext, createContext } from '../src/app/context.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/lib/log.ts';
import { setupToken } from '../src/modules/setup/service.ts';
import { buildServer } from '../src/server/build-server.ts';
import type { App } from '../src/server/types.ts';
import { peakRssMb } from './lib.ts';

// Cost of Ferry's request pipeline (API-key lookup, permission check, rate limit,
// validation, problem+json, metrics) against a bare Fastify route returning a
// similar JSON body, both driven in-process with the same concurrency. Ferry runs
// as `ferry api` would: on the PostgreSQL of TEST_DATABASE_URL when it is set, and
// on the embedded PostgreSQL of a new data directory (its unix socket).

const REQUESTS = 5000;
const ROUNDS = 5;
const CONCURRENCY = 16;

interface Served {
  app: App;
  ctx: AppContext;
  close(): Promise<void>;
}

async function withAdmin(fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: process.env['TEST_DATABASE_URL'] });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

async function serve(backend: 'postgres' | 'embedded'): Promise<Served> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-api-'));
  // On the given server, a database of the bench's own.
  const name = `ferry_bench_api_${process.pid}`;
  let url: string | undefined;
  if (backend === 'postgres') {
    await withAdmin((c) =>
      c.query(`DROP DATABASE IF EXISTS ${name}`).then(() => c.query(`CREATE DATABASE ${name}`)),
    );
    const u = new URL(process.env['TEST_DATABASE_URL']!);
    u.pathname = `/${name}`;
    url = u.toString();
  }
  const config = loadConfig({
    FERRY_DATA_DIR: dataDir,
    FERRY_DEMO_ROWS: '1000',
    FERRY_RATE_LIMIT_AUTHENTICATED: '10000000',
    FERRY_RATE_LIMIT_ANONYMOUS: '1000000',
    ...(url ? { DATABASE_URL: url, FERRY_SECRET: 'bench-secret-bench-secret-bench-secret' } : {}),
  });
  const log = createLogger('warn');
  const ctx = await createContext(config, { roles: new Set(['api']), log });
  const app = await buildServer(ctx);
  await app.ready();
  return {
    app,
    ctx,
    async close() {
      await app.close();
      await ctx.close();
      await rm(dataDir, { recursive: true, force: true });
      if (url) await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function drive(fn: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) await fn();
    }),
  );
  return REQUESTS / ((performance.now() - started) / 1000);
}

export async function run(): Promise<void> {
  const bare = Fastify();
  bare.get('/me', async () => ({
    tenant: { id: 'x', name: 'Acme' },
    role: 'owner',
    permissions: ['a', 'b', 'c'],
  }));
  await bare.ready();
  const backends = process.env['TEST_DATABASE_URL']
    ? (['postgres', 'embedded'] as const)
    : (['embedded'] as const);
  // Every case is driven in turn, ROUNDS times, and each reports its median: the
  // process warms up (JIT, caches) across all of them alike, and a pause in one
  // round (GC, the machine) moves no figure.
  const cases: { what: string; backend: string; fn: () => Promise<unknown>; rates: number[] }[] = [
    { what: 'bare Fastify GET', backend: '-', fn: () => bare.inject({ url: '/me' }), rates: [] },
  ];
  const served: Served[] = [];
  for (const backend of backends) {
    const t = await serve(backend);
    served.push(t);
    const setup = await t.app.inject({
      method: 'POST',
      url: '/api/v1/setup',
      payload: {
        setupToken: setupToken(t.ctx.secrets),
        tenantName: 'Bench',
        email: 'bench@example.com',
        password: 'bench-password-long',
      },
    });
    if (setup.statusCode !== 201) throw new Error(`setup failed: ${setup.body}`);
    const headers = { authorization: `Bearer ${(setup.json() as { apiKey: string }).apiKey}` };
    cases.push(
      {
        what: 'GET /api/v1/me (API key)',
        backend,
        fn: () => t.app.inject({ url: '/api/v1/me', headers }),
        rates: [],
      },
      { what: 'GET /healthz (no auth)', backend, fn: () => t.app.inject({ url: '/healthz' }), rates: [] },
    );
  }
  for (const c of cases) await drive(c.fn); // warm-up
  for (let round = 0; round < ROUNDS; round++) for (const c of cases) c.rates.push(await drive(c.fn));
  for (const t of served) await t.close();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const reference = median(cases[0]!.rates);
  const rows: string[][] = [['pipeline', 'backend', 'req/s', 'ratio vs bare Fastify']];
  for (const c of cases) {
    const rate = median(c.rates);
    rows.push([c.what, c.backend, rate.toFixed(0), (rate / reference).toFixed(2)]);
  }
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(width[i]!)).join('  ')}\n`);
  process.stdout.write(
    `peak RSS ${peakRssMb().toFixed(0)} MB (Ferry in this process; the database server apart)\n`,
  );
}
