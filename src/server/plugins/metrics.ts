import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../db/db.ts';
import type { Queue } from '../../jobs/queue.ts';
import { Unauthorized } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { safeEqual } from '../../lib/secrets.ts';
import { countActiveRuns, runTotals } from '../../modules/runs/stats-repo.ts';
import { countOverdueSchedules } from '../../modules/schedules/repo.ts';
import type { App } from '../types.ts';

/** FERRY_METRICS_TOKEN: `Authorization: Bearer <token>`, compared in constant time. */
function requireMetricsToken(authorization: string | undefined, token: string): void {
  const sent = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (sent === undefined || !safeEqual(sent, token))
    throw new Unauthorized('/metrics requires "Authorization: Bearer <FERRY_METRICS_TOKEN>"');
}

const DURATION_BOUNDS = ['1', '5', '15', '60', '300', '900', '3600', '+Inf'];

/**
 * Runs that ended, by status and format, from the totals a database trigger keeps
 * (migration 0011): the same numbers from every API process, and counters that
 * only grow. Written as Prometheus text: counters for runs, rows and bytes, and a
 * histogram of run durations.
 */
export async function runTotalsText(db: Db): Promise<string> {
  const r = { rows: await runTotals(db) };
  const label = (row: { status: string; format: string }) =>
    `status="${row.status.replace(/["\\\n]/g, '_')}",format="${row.format.replace(/["\\\n]/g, '_')}"`;
  const lines = [
    '# HELP ferry_runs_total Runs that ended, by status and format',
    '# TYPE ferry_runs_total counter',
    ...r.rows.map((row) => `ferry_runs_total{${label(row)}} ${row.runs}`),
    '# HELP ferry_rows_written_total Rows written into files by runs that ended, by status and format',
    '# TYPE ferry_rows_written_total counter',
    ...r.rows.map((row) => `ferry_rows_written_total{${label(row)}} ${row.rows_written}`),
    '# HELP ferry_bytes_written_total Bytes of the files of runs that ended, by status and format',
    '# TYPE ferry_bytes_written_total counter',
    ...r.rows.map((row) => `ferry_bytes_written_total{${label(row)}} ${row.bytes_written}`),
    '# HELP ferry_run_duration_seconds How long runs took from start to end, by status and format',
    '# TYPE ferry_run_duration_seconds histogram',
  ];
  for (const row of r.rows) {
    let cumulative = 0n;
    DURATION_BOUNDS.forEach((le, i) => {
      cumulative += BigInt(row.duration_buckets[i] ?? '0');
      lines.push(`ferry_run_duration_seconds_bucket{${label(row)},le="${le}"} ${cumulative}`);
    });
    lines.push(`ferry_run_duration_seconds_sum{${label(row)}} ${row.duration_seconds}`);
    lines.push(`ferry_run_duration_seconds_count{${label(row)}} ${row.timed}`);
  }
  return `${lines.join('\n')}\n`;
}

let processRegistry: Registry | undefined;

/**
 * The process's own metrics (CPU, memory, handles, event-loop lag), collected
 * once per process: they describe the process, not a server, and every
 * collection starts an event-loop monitor that cannot be stopped (one per server
 * piled up in a process that builds several). The monitor samples every 100 ms:
 * at prom-client's default 10 ms it woke an idle process 100 times a second.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'ferry_', eventLoopMonitoringPrecision: 100 });
  }
  return processRegistry;
}

/** Prometheus metrics on a registry owned by this server, with the process's metrics beside them. */
export function registerMetrics(
  app: App,
  queue: Queue,
  log: Logger,
  db: Db,
  token: string | undefined,
): Registry {
  const registry = new Registry();
  const duration = new Histogram({
    name: 'ferry_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'ferry_queue_jobs',
    help: 'Background jobs by queue and state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const q of await queue.counts()) {
          this.set({ queue: q.name, state: 'queued' }, q.queued);
          this.set({ queue: q.name, state: 'active' }, q.active);
          this.set({ queue: q.name, state: 'failed' }, q.failed);
        }
      } catch (err) {
        log.warn({ err }, 'could not read queue sizes for /metrics');
      }
    },
  });

  // Read from the database, so any API process reports the whole installation's scheduler and runs.
  new Gauge({
    name: 'ferry_schedules_overdue',
    help: 'Active schedules whose next run is more than 60 s late by the database clock (a stalled or missing scheduler)',
    registers: [registry],
    async collect() {
      try {
        this.set(await countOverdueSchedules(db, 60));
      } catch (err) {
        log.warn({ err }, 'could not count overdue schedules for /metrics');
      }
    },
  });
  new Gauge({
    name: 'ferry_runs_active',
    help: 'Runs queued or running, by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const row of await countActiveRuns(db)) this.set({ status: row.status }, row.n);
      } catch (err) {
        log.warn({ err }, 'could not count runs for /metrics');
      }
    },
  });

  // Started with the first server, so the event-loop lag is sampled from then on, not from the first scrape.
  processMetrics();
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: ids and tokens must not become label values.
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.get(
    '/metrics',
    { config: { auth: 'public', rateLimit: false }, schema: { hide: true } },
    async (request, reply) => {
      if (token !== undefined) requireMetricsToken(request.headers.authorization, token);
      reply.type(registry.contentType);
      const totals = await runTotalsText(db).catch((err: unknown) => {
        log.warn({ err }, 'could not read run totals for /metrics');
        return '';
      });
      return (await processMetrics().metrics()) + (await registry.metrics()) + totals;
    },
  );
  return registry;
}
