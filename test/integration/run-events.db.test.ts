import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../src/lib/log.ts';
import { createRunEvents, RUN_EVENTS_APPLICATION } from '../../src/modules/runs/events.ts';
import { RUN_CHANGED_CHANNEL } from '../../src/modules/runs/repo.ts';
import {
  call,
  createKey,
  createTenant,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { waitFor } from '../helpers/time.ts';

// Run events (GET /runs/{id}/events) come from one LISTEN connection per process,
// not a database poll per stream (issue 13, item 8), and one user or API key can
// hold at most FERRY_MAX_EVENT_STREAMS of them open.

interface RunEvent {
  id: string;
  status: string;
  progress: { rows: number };
}

interface Stream {
  status: number;
  contentType: string | undefined;
  /** Every run event received so far. */
  events: RunEvent[];
  /** The body of an answer that is not a stream (a problem). */
  body: () => unknown;
  ended: Promise<void>;
  close(): void;
}

const agent = new http.Agent({ keepAlive: false });

function openStream(base: string, runId: string, key: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${base}/api/v1/runs/${runId}/events`,
      { agent, headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } },
      (res) => {
        res.setEncoding('utf8');
        const events: RunEvent[] = [];
        let text = '';
        let buffer = '';
        res.on('data', (chunk: string) => {
          text += chunk;
          buffer += chunk;
          for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data: '))
              .map((line) => line.slice(6))
              .join('\n');
            if (data) events.push(JSON.parse(data));
          }
        });
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          events,
          body: () => JSON.parse(text),
          ended: new Promise((done) => res.on('close', () => done())),
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
  });
}

const lastEvent = (s: Stream) => s.events.at(-1);

async function listeners(t: TestApp, applicationName = RUN_EVENTS_APPLICATION) {
  const r = await t.ctx.db.query<{ pid: number; query: string }>(
    `SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
    [applicationName],
  );
  return r.rows;
}

for (const backend of backends()) {
  describe(`run events (${backend})`, () => {
    let t: TestApp;
    let base: string;
    let owner: TenantHandle;
    let other: TenantHandle;
    let reportId: string;
    let otherReportId: string;

    before(async () => {
      t = await createTestApp(backend);
      owner = await setupFirstTenant(t);
      other = await createTenant(t, owner.apiKey, 'Other', 'other@example.com');
      for (const who of [owner, other]) {
        const used = await reportFromTemplate(t, who.apiKey, 'customer-list');
        if (who === owner) reportId = used.body.id;
        else otherReportId = used.body.id;
      }
      base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(() => t.close());

    /** A queued run (no worker takes it): it changes only when the test changes it. */
    async function queuedRun(key = owner.apiKey, report = reportId): Promise<string> {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key,
        body: { reportId: report, format: 'csv' },
      });
      assert.equal(r.status, 202, r.text);
      return r.body.id;
    }

    const openMany = (n: number, runId: string, key = owner.apiKey) =>
      Promise.all(Array.from({ length: n }, () => openStream(base, runId, key)));

    test('20 streams are served by one LISTEN connection; a change reaches every stream after its NOTIFY', async () => {
      const runId = await queuedRun();
      const streams = await openMany(20, runId);
      for (const s of streams) assert.equal(s.status, 200);
      await waitFor('the first event on every stream', () => streams.every((s) => s.events.length > 0));
      assert.equal(lastEvent(streams[0]!)?.status, 'queued');

      const conns = await listeners(t);
      assert.equal(conns.length, 1, 'one listening connection for all streams');
      assert.equal(conns[0]!.query, `LISTEN ${RUN_CHANGED_CHANNEL}`);

      // A change the streams cannot see until it is announced.
      await t.ctx.db.query('UPDATE runs SET progress_rows = 7 WHERE id = $1', [runId]);
      await t.ctx.db.query('SELECT pg_notify($1, $2)', [RUN_CHANGED_CHANNEL, runId]);
      await waitFor('progress on every stream', () =>
        streams.every((s) => lastEvent(s)?.progress.rows === 7),
      );

      // Ferry's own writers announce: cancel through the API ends every stream.
      const cancelled = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${runId}/cancel`,
        key: owner.apiKey,
      });
      assert.equal(cancelled.status, 200, cancelled.text);
      await Promise.all(streams.map((s) => s.ended));
      for (const s of streams) assert.equal(lastEvent(s)?.status, 'cancelled');
      assert.equal((await listeners(t)).length, 1, 'still the one connection');
    });

    test('the 21st stream of one principal is 429 with the limit; another principal still gets 200; a closed stream frees its slot', async () => {
      const runId = await queuedRun();
      const streams = await openMany(20, runId);
      for (const s of streams) assert.equal(s.status, 200);

      const refused = await openStream(base, runId, owner.apiKey);
      assert.equal(refused.status, 429);
      assert.match(String(refused.contentType), /application\/problem\+json/);
      await refused.ended;
      assert.match((refused.body() as { detail: string }).detail, /At most 20 run event streams/);

      // Another API key of the same tenant, and another tenant on its own run.
      const viewerKey = await createKey(t, owner.apiKey, 'viewer');
      const viewer = await openStream(base, runId, viewerKey);
      assert.equal(viewer.status, 200);
      const otherRun = await queuedRun(other.apiKey, otherReportId);
      const otherStream = await openStream(base, otherRun, other.apiKey);
      assert.equal(otherStream.status, 200);
      // Another tenant's run stays invisible, whatever the caller's stream count.
      const foreign = await openStream(base, runId, other.apiKey);
      assert.equal(foreign.status, 404);
      await foreign.ended;

      streams[0]!.close();
      const again = await waitFor('a slot freed by the closed stream', async () => {
        const s = await openStream(base, runId, owner.apiKey);
        if (s.status === 200) return s;
        await s.ended;
        return undefined;
      });
      await waitFor('its first event', () => again.events.length > 0);

      for (const [key, id] of [
        [owner.apiKey, runId],
        [other.apiKey, otherRun],
      ] as const)
        await call(t, { method: 'POST', url: `/api/v1/runs/${id}/cancel`, key });
      await Promise.all([...streams.slice(1), again, viewer, otherStream].map((s) => s.ended));
      assert.equal(lastEvent(viewer)?.status, 'cancelled');
      assert.equal(lastEvent(otherStream)?.status, 'cancelled');
    });

    test('a terminated LISTEN connection reconnects, and the streams keep receiving events', async () => {
      const runId = await queuedRun();
      const streams = await openMany(3, runId);
      await waitFor('the first events', () => streams.every((s) => s.events.length > 0));
      const [before] = await listeners(t);
      assert.ok(before, 'listening');
      const killed = await t.ctx.db.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [
        before.pid,
      ]);
      assert.equal(killed.rows[0]!.ok, true);

      // Changed while (or right after) nobody listened: the poll or the catch-up on reconnect brings it.
      await t.ctx.db.query('UPDATE runs SET progress_rows = 3 WHERE id = $1', [runId]);
      await waitFor('the change made during the outage', () =>
        streams.every((s) => lastEvent(s)?.progress.rows === 3),
      );
      const reconnected = await waitFor('a new listening connection', async () => {
        const now = await listeners(t);
        return now.length === 1 && now[0]!.pid !== before.pid && now[0]!.query.startsWith('LISTEN') && now;
      });
      assert.equal(reconnected.length, 1);

      await call(t, { method: 'POST', url: `/api/v1/runs/${runId}/cancel`, key: owner.apiKey });
      await Promise.all(streams.map((s) => s.ended));
      for (const s of streams) assert.equal(lastEvent(s)?.status, 'cancelled');
      assert.ok(
        t.logs.some((line) => line.includes('the listening connection was lost')),
        'the loss is logged',
      );
    });

    test('the watcher reads a run once per notification however many follow it, and polls while it cannot listen', async () => {
      const runId = await queuedRun();
      const applicationName = 'ferry-run-events-test';
      const watcher = createRunEvents({
        url: t.database.url,
        log: createLogger('silent'),
        maxStreamsPerPrincipal: 20,
        applicationName,
        pollMs: 50,
        // Once lost, it stays lost for this test: only the poll can deliver.
        reconnectMs: 3_600_000,
      });
      try {
        let reads = 0;
        const load = async () => {
          reads++;
          const r = await t.ctx.db.query<{ rows: string }>(
            'SELECT progress_rows AS rows FROM runs WHERE id = $1',
            [runId],
          );
          return Number(r.rows[0]!.rows);
        };
        // Listening first, so that every read below has one known cause.
        const stopWarmUp = watcher.follow(
          '00000000-0000-0000-0000-000000000000',
          async () => 0,
          () => {},
        );
        await waitFor('listening', () => watcher.listening);
        stopWarmUp();

        const seen: number[][] = Array.from({ length: 20 }, () => []);
        const stops = seen.map((values) => watcher.follow(runId, load, (v: number) => values.push(v)));
        await waitFor('the first value for every follower', () => seen.every((v) => v.length === 1));
        assert.equal(reads, 1, 'twenty followers who joined together: one read');

        await t.ctx.db.query('UPDATE runs SET progress_rows = 5 WHERE id = $1', [runId]);
        await t.ctx.db.query('SELECT pg_notify($1, $2)', [RUN_CHANGED_CHANNEL, runId]);
        await waitFor('the change for every follower', () => seen.every((v) => v.at(-1) === 5));
        assert.equal(reads, 2, 'one notification: one read for all twenty');

        const [conn] = await listeners(t, applicationName);
        await t.ctx.db.query('SELECT pg_terminate_backend($1)', [conn!.pid]);
        await waitFor('the loss noticed', () => !watcher.listening);
        await t.ctx.db.query('UPDATE runs SET progress_rows = 9 WHERE id = $1', [runId]);
        await waitFor('the poll delivering the change', () => seen.every((v) => v.at(-1) === 9));
        for (const stop of stops) stop();
      } finally {
        await watcher.stop();
      }
      assert.equal((await listeners(t, applicationName)).length, 0, 'stop closes its connection');
    });
  });
}

for (const backend of backends()) {
  describe(`run events with a worker (${backend})`, () => {
    let t: TestApp;
    let base: string;
    let owner: TenantHandle;
    let reportId: string;

    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker'] });
      owner = await setupFirstTenant(t);
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = used.body.id;
      base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(() => t.close());

    test("the worker's own writes announce the run: a stream follows an export from running to succeeded", async () => {
      // A second session holds the report's table, so the export waits, running, until the test lets it go.
      const locker = new pg.Client({ connectionString: t.database.url });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE demo.customers IN ACCESS EXCLUSIVE MODE');
        const r = await call(t, {
          method: 'POST',
          url: '/api/v1/exports',
          key: owner.apiKey,
          body: { reportId, format: 'csv' },
        });
        assert.equal(r.status, 202, r.text);
        const stream = await openStream(base, r.body.id, owner.apiKey);
        assert.equal(stream.status, 200);
        await waitFor('running', () => lastEvent(stream)?.status === 'running');
        // From here the watcher listens and does not poll: only a notification can end the stream.
        await waitFor('the listening connection', async () => (await listeners(t)).length === 1);
        await locker.query('COMMIT');
        await stream.ended;
        const last = lastEvent(stream) as RunEvent & { rowCount: number };
        assert.equal(last.status, 'succeeded');
        assert.ok(last.rowCount > 0);
      } finally {
        await locker.end();
      }
    });
  });
}
