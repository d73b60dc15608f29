import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';
import { type AppContext, createContext } from '../src/app/context.ts';
import { loadConfig } from '../src/config.ts';
import { demoReaders, dropDemoReadersSql } from '../src/demo/readers.ts';
import { createLogger } from '../src/lib/log.ts';
import type { Principal } from '../src/modules/auth-context.ts';
import { createDestination } from '../src/modules/destinations/service.ts';
import { createExport } from '../src/modules/runs/service.ts';
import { admin, dbUrl, fmt, percentile, table } from './lib.ts';

// Delivery through Ferry's real path: RUNS one-off CSV exports, each with two
// destinations (e-mail to a local SMTP server, a signed webhook event to a local
// HTTP receiver), executed and delivered by a worker context with the default
// worker settings on a PostgreSQL database of its own. Latency is per delivery,
// from "file ready" (the run's finished_at) to "accepted by the peer" (the SMTP
// server's end of DATA, the receiver's end of the request body), matched by
// SMTP Message-ID and webhook-id (the delivery's id). The reference, measured
// in the same run: the same number of webhook POSTs sent directly with fetch in
// a loop, one after another (the receiver's raw capacity on this machine).
// Peers, worker and bench share one process, like a one-box install.

const SECRET = 'bench-delivery-secret-that-is-long-enough-0123456789';
const RUNS = Number(process.env['BENCH_DELIVERY_RUNS'] ?? 1_000);
/** Deliveries still pending after this long are reported as such (the bench stays short). */
const CAP_SECONDS = Number(process.env['BENCH_DELIVERY_CAP_SECONDS'] ?? 90);
const GOAL_P99_MS = 2_000;
const WEBHOOK_SECRET = `whsec_${Buffer.from('bench-delivery-webhook-key-0123').toString('base64')}`;
const REPORT_SQL = "SELECT g AS id, 'line ' || g AS label FROM generate_series(1, 20) AS g";

const log = createLogger('silent');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- database

// ---------------------------------------------------------------- peers

/** When each message (by key) was accepted, in epoch ms. */
type Arrivals = Map<string, number>;

interface Peer {
  port: number;
  arrivals: Arrivals;
  close(): Promise<void>;
}

/** An SMTP server that accepts everything and notes when each Message-ID's DATA ended. */
async function startSmtpPeer(): Promise<Peer> {
  const arrivals: Arrivals = new Map();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: 500,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        if (head.length < 8_192) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        const id = /^message-id:\s*(<[^>\r\n]+>)/im.exec(head)?.[1];
        if (id) arrivals.set(id, Date.now());
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    arrivals,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** An HTTP receiver that answers 204 and notes when each webhook-id's body ended. */
async function startReceiver(): Promise<Peer> {
  const arrivals: Arrivals = new Map();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') arrivals.set(id, Date.now());
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    arrivals,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- figures

const ms = (n: number) => (Number.isFinite(n) ? `${fmt(n)} ms` : '-');

// ---------------------------------------------------------------- setup

const TENANT = '00000000-0000-4000-8000-00000000b001';
const USER = '00000000-0000-4000-8000-00000000b002';
const CONNECTION = '00000000-0000-4000-8000-00000000b003';
const REPORT = '00000000-0000-4000-8000-00000000b004';

async function seed(ctx: AppContext): Promise<Principal> {
  await ctx.db.exec(`
    INSERT INTO tenants (id, name, slug) VALUES ('${TENANT}', 'Bench tenant', 'bench-tenant');
    INSERT INTO users (id, email, name) VALUES ('${USER}', 'owner@bench.example', 'Owner');
    INSERT INTO memberships (tenant_id, user_id, role) VALUES ('${TENANT}', '${USER}', 'owner');
    INSERT INTO connections (id, tenant_id, name, type) VALUES ('${CONNECTION}', '${TENANT}', 'Demo data', 'demo');
    INSERT INTO reports (id, tenant_id, connection_id, name, sql)
      VALUES ('${REPORT}', '${TENANT}', '${CONNECTION}', 'Twenty rows', $q$${REPORT_SQL}$q$);`);
  return {
    kind: 'api_key',
    tenantId: TENANT,
    userId: USER,
    apiKeyId: null,
    sessionId: null,
    role: 'owner',
    permissions: new Set(),
    isInstanceAdmin: false,
    label: 'bench',
  };
}

// ---------------------------------------------------------------- parts

/** The reference: RUNS webhook-shaped POSTs to the receiver with fetch, one after another. */
async function directPosts(
  receiverUrl: string,
  receiver: Peer,
): Promise<{ seconds: number; latencies: number[] }> {
  const body = JSON.stringify({ type: 'run.succeeded', data: { runId: 'x'.repeat(36), rows: 20 } });
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    const id = `direct-${i}`;
    const sent = Date.now();
    const response = await fetch(receiverUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': id },
      body,
    });
    await response.arrayBuffer();
    latencies.push(receiver.arrivals.get(id)! - sent);
  }
  return { seconds: (performance.now() - started) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

interface DeliveryRow {
  id: string;
  type: string;
  status: string;
  attempts: number;
  message_id: string | null;
  ready: Date;
}

async function deliveries(ctx: AppContext): Promise<DeliveryRow[]> {
  const r = await ctx.db.query<DeliveryRow>(
    `SELECT d.id, d.destination_type AS type, d.status, d.attempts,
            d.receipt->'details'->>'messageId' AS message_id, r.finished_at AS ready
       FROM deliveries d JOIN runs r ON r.id = d.run_id`,
  );
  return r.rows;
}

interface Outcome {
  type: string;
  accepted: number;
  failed: number;
  retried: number;
  latencies: number[];
}

function outcomes(rows: DeliveryRow[], mail: Peer, hook: Peer): Outcome[] {
  return ['email', 'webhook'].map((type) => {
    const mine = rows.filter((d) => d.type === type);
    const latencies = mine.flatMap((d) => {
      const at = type === 'email' ? d.message_id && mail.arrivals.get(d.message_id) : hook.arrivals.get(d.id);
      return at ? [at - new Date(d.ready).getTime()] : [];
    });
    return {
      type,
      accepted: latencies.length,
      failed: mine.filter((d) => d.status === 'failed').length,
      retried: mine.filter((d) => d.attempts > 1).length,
      latencies: latencies.sort((a, b) => a - b),
    };
  });
}

async function throughFerry(ctx: AppContext, actor: Principal, destinationIds: string[]) {
  const expected = RUNS * destinationIds.length;
  const started = performance.now();
  // 8 concurrent callers, like API clients asking for exports.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next++ < RUNS) {
        await createExport(
          ctx,
          actor,
          { ip: null, userAgent: null },
          { reportId: REPORT, format: 'csv', destinationIds },
          'api',
        );
      }
    }),
  );
  const createdSeconds = (performance.now() - started) / 1000;
  let ended = 0;
  for (;;) {
    const r = await ctx.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM deliveries WHERE status IN ('succeeded', 'failed')",
    );
    ended = Number(r.rows[0]!.n);
    if (ended >= expected || performance.now() - started > CAP_SECONDS * 1000) break;
    await sleep(100);
  }
  const seconds = (performance.now() - started) / 1000;
  const times = await ctx.db.query<{ first_ready: Date; last_ready: Date; last_delivered: Date }>(
    `SELECT min(r.finished_at) AS first_ready, max(r.finished_at) AS last_ready,
            (SELECT max(finished_at) FROM deliveries) AS last_delivered
       FROM runs r`,
  );
  return { createdSeconds, seconds, ended, expected, times: times.rows[0]! };
}

export async function run(): Promise<void> {
  const database = `ferry_bench_delivery_${process.pid}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-bench-delivery-'));
  const mail = await startSmtpPeer();
  const hook = await startReceiver();
  const receiverUrl = `http://127.0.0.1:${hook.port}/hooks/ferry`;
  let ctx: AppContext | undefined;
  const started = performance.now();
  try {
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${database}`);
    const config = loadConfig({
      PATH: process.env['PATH'] ?? '',
      DATABENCH_BASE_URL: dbUrl(database),
      FERRY_SECRET: SECRET,
      FERRY_DATA_DIR: dataDir,
      FERRY_DEMO_ROWS: '1000',
      LOG_LEVEL: 'warn',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(mail.port),
      SMTP_FROM: 'Ferry <ferry@bench.example>',
      FERRY_DELIVERY_ALLOW_PRIVATE: '127.0.0.1',
    });
    ctx = await createContext(config, { roles: new Set(['api', 'worker'] as const), log });
    const actor = await seed(ctx);
    const origin = { ip: null, userAgent: null };
    const email = await createDestination(ctx, actor, origin, {
      name: 'Bench mail',
      type: 'email',
      settings: { to: ['finance@bench.example'], attach: 'file' },
    });
    const webhook = await createDestination(ctx, actor, origin, {
      name: 'Bench hook',
      type: 'webhook',
      settings: { url: receiverUrl, mode: 'event' },
      secrets: { secrets: [WEBHOOK_SECRET] },
    });

    const direct = await directPosts(receiverUrl, hook);
    const ferry = await throughFerry(ctx, actor, [email.id, webhook.id]);
    const results = outcomes(await deliveries(ctx), mail, hook);
    const all = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const accepted = results.reduce((s, r) => s + r.accepted, 0);
    const { first_ready: firstReady, last_ready: lastReady, last_delivered: lastDelivered } = ferry.times;
    const readyPerSecond = RUNS / ((new Date(lastReady).getTime() - new Date(firstReady).getTime()) / 1000);
    const deliverySeconds = (new Date(lastDelivered).getTime() - new Date(firstReady).getTime()) / 1000;
    const perSecond = accepted / deliverySeconds;
    const directPerSecond = RUNS / direct.seconds;

    process.stdout.write(
      `### ${fmt(RUNS)} runs × (e-mail + webhook) through one worker context ` +
        `(FERRY_WORKER_CONCURRENCY default ${config.workerConcurrency}), PostgreSQL\n\n` +
        `Exports created by 8 concurrent createExport callers in ${ferry.createdSeconds.toFixed(1)} s; ` +
        `${fmt(ferry.ended)} of ${fmt(ferry.expected)} deliveries ended ${ferry.seconds.toFixed(1)} s after the first call. ` +
        '"deliveries/s" counts accepted deliveries from the first file ready to the last delivery finished; latency is ' +
        'file ready (runs.finished_at) → accepted by the peer. Reference: the same number of webhook POSTs sent directly ' +
        'with fetch, one after another, to the same receiver (latency: request sent → body received).\n\n',
    );
    const rows = [
      ['path', 'accepted', 'failed', 'retried', 'p50', 'p99', 'max', `p99 < ${GOAL_P99_MS / 1000} s`],
    ];
    for (const r of results)
      rows.push([
        `Ferry ${r.type}`,
        `${fmt(r.accepted)} of ${fmt(RUNS)}`,
        fmt(r.failed),
        fmt(r.retried),
        ms(percentile(r.latencies, 50)),
        ms(percentile(r.latencies, 99)),
        ms(percentile(r.latencies, 100)),
        percentile(r.latencies, 99) < GOAL_P99_MS ? 'yes' : 'NO',
      ]);
    rows.push([
      'Ferry both',
      `${fmt(accepted)} of ${fmt(2 * RUNS)}`,
      '',
      '',
      ms(percentile(all, 50)),
      ms(percentile(all, 99)),
      ms(percentile(all, 100)),
      percentile(all, 99) < GOAL_P99_MS ? 'yes' : 'NO',
    ]);
    rows.push([
      'direct fetch POST (reference)',
      `${fmt(RUNS)} of ${fmt(RUNS)}`,
      '0',
      '0',
      ms(percentile(direct.latencies, 50)),
      ms(percentile(direct.latencies, 99)),
      ms(percentile(direct.latencies, 100)),
      '',
    ]);
    table(rows);
    table([
      ['throughput', 'per second', 'vs direct fetch'],
      ['Ferry deliveries (e-mail + webhook)', fmt(perSecond, 1), (perSecond / directPerSecond).toFixed(3)],
      ['direct fetch POSTs (reference)', fmt(directPerSecond, 1), '1.000'],
      [
        'files ready (runs finished, first → last)',
        fmt(readyPerSecond, 1),
        (readyPerSecond / directPerSecond).toFixed(3),
      ],
    ]);
    process.stdout.write(
      'Deliveries keep pace with the files (two per run): their rate is bounded by how fast the worker makes files, ' +
        'not by sending; the latency columns show what delivery itself adds.\n\n',
    );
  } finally {
    await ctx?.close();
    await mail.close();
    await hook.close();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin(dropDemoReadersSql(demoReaders(dbUrl(database), SECRET).group)).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(
    `Total ${((performance.now() - started) / 1000).toFixed(0)} s (PostgreSQL, 2 cores).\n`,
  );
}
