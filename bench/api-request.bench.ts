import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { createTestApp, setupFirstTenant } from '../test/helpers/app.ts';
import { backends } from '../test/helpers/db.ts';
import { peakRssMb } from './lib.ts';

// Cost of Ferry's request pipeline (API-key lookup, permission check, rate limit,
// validation, problem+json, metrics) against a bare Fastify route returning a
// similar JSON body, both driven in-process with the same concurrency.

const REQUESTS = 3000;
const CONCURRENCY = 16;

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
  await drive(() => bare.inject({ url: '/me' })); // warm-up
  const reference = await drive(() => bare.inject({ url: '/me' }));
  const rows: string[][] = [['pipeline', 'backend', 'req/s', 'ratio vs bare Fastify']];
  rows.push(['bare Fastify GET', '-', reference.toFixed(0), '1.00']);
  for (const backend of backends()) {
    const t = await createTestApp(backend);
    const owner = await setupFirstTenant(t);
    const headers = { authorization: `Bearer ${owner.apiKey}` };
    await drive(() => t.app.inject({ url: '/api/v1/me', headers }));
    const me = await drive(() => t.app.inject({ url: '/api/v1/me', headers }));
    const health = await drive(() => t.app.inject({ url: '/healthz' }));
    rows.push(['GET /api/v1/me (API key)', backend, me.toFixed(0), (me / reference).toFixed(2)]);
    rows.push(['GET /healthz (no auth)', backend, health.toFixed(0), (health / reference).toFixed(2)]);
    await t.close();
  }
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(width[i]!)).join('  ')}\n`);
  process.stdout.write(
    `peak RSS ${peakRssMb().toFixed(0)} MB (Ferry in this process; the database server apart)\n`,
  );
}
