import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import yauzl from 'yauzl';
import { cleanupArtifacts, removeOrphanFiles } from '../../src/modules/artifacts/service.ts';
import {
  call,
  createTenant,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { CREATE_PACED_FUNCTION, pacedSql } from '../helpers/paced.ts';
import { waitForRun } from '../helpers/runs.ts';

async function download(t: TestApp, key: string, id: string, headers: Record<string, string> = {}) {
  const r = await t.app.inject({
    url: `/api/v1/runs/${id}/download`,
    headers: { authorization: `Bearer ${key}`, ...headers },
  });
  return { status: r.statusCode, headers: r.headers, raw: r.rawPayload };
}

for (const backend of backends()) {
  describe(`export runs (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let reportId: string;
    let expectedRows: number;
    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker'] });
      owner = await setupFirstTenant(t);
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list');
      reportId = used.body.id;
      const count = await call(t, {
        method: 'POST',
        url: '/api/v1/reports/preview',
        key: owner.apiKey,
        body: { report: { connectionId: used.body.connectionId, sql: 'SELECT count(*) FROM customers' } },
      });
      expectedRows = Number(count.body.rows[0][0]);
    });
    after(() => t.close());

    const exportRun = (body: object) =>
      call(t, { method: 'POST', url: '/api/v1/exports', key: owner.apiKey, body: { reportId, ...body } });

    test('CSV: 202 queued → succeeded with rows, size, checksum; the file parses back to every row', async () => {
      const started = await exportRun({ format: 'csv' });
      assert.equal(started.status, 202, started.text);
      assert.equal(started.body.status, 'queued');
      const run = await waitForRun(t, owner.apiKey, started.body.id);
      assert.equal(run.status, 'succeeded', run.error);
      assert.equal(run.rowCount, expectedRows);
      assert.match(run.fileName, /^Customer-list_\d{4}-\d{2}-\d{2}_\d{6}\.csv$/);
      assert.match(run.checksum, /^sha256:[0-9a-f]{64}$/);
      assert.equal(run.attemptHistory.length, 1);
      assert.equal(run.attemptHistory[0].status, 'succeeded');
      const file = await download(t, owner.apiKey, run.id);
      assert.equal(file.status, 200);
      assert.equal(file.headers['content-type'], 'text/csv; charset=utf-8');
      assert.equal(Number(file.headers['content-length']), run.fileSize);
      assert.match(
        String(file.headers['content-disposition']),
        /^attachment; filename="Customer-list_.*\.csv"; filename\*=UTF-8''/,
      );
      const rows = parseCsv(file.raw.toString('utf8')) as string[][];
      assert.equal(rows.length, expectedRows + 1);
      assert.deepEqual(rows[0], [
        'id',
        'name',
        'email',
        'country',
        'city',
        'segment',
        'credit_limit',
        'created_at',
        'notes',
      ]);
      // The demo's formula-like name is neutralised; its quotes and commas survive.
      assert.ok(rows.some((r) => r[1] === '\'=HYPERLINK("http://example.com")'));
      assert.ok(rows.some((r) => r[1] === "O'Brien & Sons, Ltd."));
      const after = await call(t, { url: `/api/v1/runs/${run.id}`, key: owner.apiKey });
      assert.equal(after.body.downloads.length, 1);
      assert.equal(after.body.downloads[0].via, 'api');
    });

    test('progress: a run expects the row count of the last identical successful run, for its percent', async () => {
      const first = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'ndjson' })).body.id);
      assert.equal(first.status, 'succeeded');
      assert.equal(first.progress.percent, 100);
      const second = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'ndjson' })).body.id);
      assert.equal(second.progress.expectedRows, first.rowCount);
      const otherFormat = await waitForRun(
        t,
        owner.apiKey,
        (await exportRun({ format: 'tsv', parameters: { country: 'DE' } })).body.id,
      );
      assert.equal(otherFormat.progress.expectedRows, null, 'other parameters or format: unknown');
    });

    test('every format, and gzip, reads back with an independent parser', async () => {
      const results: Record<string, Buffer> = {};
      for (const [format, formatOptions] of [
        ['tsv', {}],
        ['json', {}],
        ['ndjson', {}],
        ['xml', { rootElement: 'customers', rowElement: 'customer' }],
        ['csv', { compression: 'gzip', delimiter: ';', bom: true }],
        ['xlsx', { sheetName: 'Customers' }],
        ['pdf', { landscape: true }],
        ['ndjson', { compression: 'zip' }],
      ] as const) {
        const started = await exportRun({ format, formatOptions });
        assert.equal(started.status, 202, started.text);
        const run = await waitForRun(t, owner.apiKey, started.body.id);
        assert.equal(run.status, 'succeeded', `${format}: ${run.error}`);
        results[format + (formatOptions as { compression?: string }).compression] = (
          await download(t, owner.apiKey, run.id)
        ).raw;
      }
      assert.equal(
        (parseCsv(results['tsvundefined']!.toString(), { delimiter: '\t' }) as unknown[]).length,
        expectedRows + 1,
      );
      assert.equal(JSON.parse(results['jsonundefined']!.toString()).length, expectedRows);
      assert.equal(
        results['ndjsonundefined']!.toString()
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l)).length,
        expectedRows,
      );
      const xml = results['xmlundefined']!.toString();
      assert.equal(XMLValidator.validate(xml), true);
      assert.equal(new XMLParser().parse(xml).customers.customer.length, expectedRows);
      const pdf = await getDocument({ data: new Uint8Array(results['pdfundefined']!), disableFontFace: true })
        .promise;
      const lastPage = await (await pdf.getPage(pdf.numPages)).getTextContent();
      assert.match(
        lastPage.items.map((i) => ('str' in i ? i.str : '')).join(' '),
        new RegExp(`${expectedRows} rows\\.`),
      );
      // A zip with the file inside, readable by an independent zip reader.
      const zipped = await new Promise<string>((resolve, reject) =>
        yauzl.fromBuffer(results['ndjsonzip']!, { lazyEntries: true }, (err, zip) => {
          if (err || !zip) return reject(err);
          zip.readEntry();
          zip.on('entry', (entry: yauzl.Entry) => {
            assert.match(entry.fileName, /^Customer-list_.*\.ndjson$/);
            zip.openReadStream(entry, (e, stream) => {
              if (e || !stream) return reject(e);
              let text = '';
              stream.on('data', (d) => (text += d));
              stream.on('end', () => resolve(text));
            });
          });
        }),
      );
      assert.equal(zipped.trimEnd().split('\n').length, expectedRows);
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load(results['xlsxundefined']! as never);
      assert.equal(workbook.worksheets[0]!.name, 'Customers');
      assert.equal(workbook.worksheets[0]!.rowCount, expectedRows + 1);
      const csv = gunzipSync(results['csvgzip']!).toString();
      assert.ok(csv.startsWith('\uFEFFid;name;'));
      assert.equal((parseCsv(csv, { delimiter: ';', bom: true }) as unknown[]).length, expectedRows + 1);
    });

    test('values a format cannot carry are replaced and counted in the run, never dropped silently', async () => {
      const created = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: {
          name: 'Control characters',
          connectionId: (await call(t, { url: `/api/v1/reports/${reportId}`, key: owner.apiKey })).body
            .connectionId,
          sql: "SELECT 'bell' || chr(7) || ' and cr' || chr(13) || chr(10) || 'end' AS v, chr(27) AS esc",
        },
      });
      assert.equal(created.status, 201, created.text);
      const started = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId: created.body.id, format: 'xml' },
      });
      const run = await waitForRun(t, owner.apiKey, started.body.id);
      assert.equal(run.status, 'succeeded', run.error);
      assert.deepEqual(
        run.warnings.map((w: { code: string; count: number }) => [w.code, w.count]),
        [['xml_replaced_characters', 2]],
      );
      const doc = new XMLParser({ htmlEntities: true, trimValues: false, parseTagValue: false }).parse(
        (await download(t, owner.apiKey, run.id)).raw.toString(),
      );
      assert.equal(doc.rows.row.v, 'bell\uFFFD and cr\r\nend');
      // CSV carries every character: no warning.
      const csv = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId: created.body.id, format: 'csv' },
      });
      assert.deepEqual((await waitForRun(t, owner.apiKey, csv.body.id)).warnings, []);
    });

    test('/metrics counts runs that ended, with their rows, bytes and duration, by status and format', async () => {
      const read = async () => {
        const text = (await t.app.inject({ url: '/metrics' })).body;
        const value = (name: string, extra = '') =>
          Number(
            new RegExp(`^${name}\\{status="succeeded",format="tsv"${extra}\\} (\\S+)$`, 'm').exec(
              text,
            )?.[1] ?? 0,
          );
        return {
          runs: value('ferry_runs_total'),
          rows: value('ferry_rows_written_total'),
          bytes: value('ferry_bytes_written_total'),
          count: value('ferry_run_duration_seconds_count'),
          inf: value('ferry_run_duration_seconds_bucket', ',le="\\+Inf"'),
          text,
        };
      };
      const before = await read();
      const run = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'tsv' })).body.id);
      assert.equal(run.status, 'succeeded', run.error);
      const after = await read();
      assert.equal(after.runs - before.runs, 1, after.text);
      assert.equal(after.rows - before.rows, run.rowCount);
      assert.equal(after.bytes - before.bytes, run.fileSize);
      assert.equal(after.count - before.count, 1);
      assert.equal(after.inf, after.count, 'the +Inf bucket holds every timed run');
      assert.match(after.text, /# TYPE ferry_run_duration_seconds histogram/);
    });

    test('signed links: download by anyone holding one; tampered 404, other tenant 404; Range gives 206', async () => {
      const run = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'csv' })).body.id);
      const link = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${run.id}/link`,
        key: owner.apiKey,
        body: {},
      });
      assert.equal(link.status, 200);
      const path = new URL(link.body.url).pathname;
      const byLink = await t.app.inject({ url: path });
      assert.equal(byLink.statusCode, 200);
      assert.equal(byLink.rawPayload.length, run.fileSize);
      // A HEAD (a link checker, a chat preview) says what the file is, and is not a download.
      const downloads = async () =>
        (await call(t, { url: `/api/v1/runs/${run.id}`, key: owner.apiKey })).body.downloads.length;
      const before = await downloads();
      const head = await t.app.inject({ method: 'HEAD', url: path });
      assert.equal(head.statusCode, 200);
      assert.equal(head.headers['content-length'], String(run.fileSize));
      assert.equal(await downloads(), before);
      const token = path.slice(3);
      const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
      assert.equal((await t.app.inject({ url: `/d/${tampered}` })).statusCode, 404);
      const ranged = await download(t, owner.apiKey, run.id, { range: 'bytes=0-9' });
      assert.equal(ranged.status, 206);
      assert.equal(ranged.raw.length, 10);
      assert.equal(ranged.headers['content-range'], `bytes 0-9/${run.fileSize}`);
      assert.equal(
        (await download(t, owner.apiKey, run.id, { range: `bytes=${run.fileSize + 5}-` })).status,
        416,
      );
      const reversed = await download(t, owner.apiKey, run.id, { range: 'bytes=9-2' });
      assert.equal(reversed.status, 200, 'an invalid range is ignored');
      assert.equal(reversed.raw.length, run.fileSize);
      // Deleting the run deletes its file; the link stops working.
      const second = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'csv' })).body.id);
      const secondLink = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${second.id}/link`,
        key: owner.apiKey,
        body: {},
      });
      const files = async () =>
        readdir(join(t.ctx.config.dataDir, 'artifacts', owner.tenantId, second.id, '1')).catch(
          () => [] as string[],
        );
      assert.equal((await files()).length, 1);
      assert.equal(
        (await call(t, { method: 'DELETE', url: `/api/v1/runs/${second.id}`, key: owner.apiKey })).status,
        204,
      );
      assert.deepEqual(await files(), []);
      assert.equal((await t.app.inject({ url: new URL(secondLink.body.url).pathname })).statusCode, 404);
      const other = await createTenant(t, owner.apiKey, 'Other', 'other-runs@example.com');
      assert.equal((await download(t, other.apiKey, run.id)).status, 404);
      const logged = await call(t, { url: `/api/v1/runs/${run.id}`, key: owner.apiKey });
      assert.ok(logged.body.downloads.some((d: { via: string }) => d.via === 'link'));
    });

    test('S8, S12: a bad query fails at once (no retry) with the database message; retry starts a new attempt of the same run', async () => {
      const bad = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: {
          name: 'Broken',
          connectionId: (await call(t, { url: `/api/v1/reports/${reportId}`, key: owner.apiKey })).body
            .connectionId,
          sql: 'SELECT * FROM no_such_table',
        },
      });
      const run = await waitForRun(
        t,
        owner.apiKey,
        (
          await call(t, {
            method: 'POST',
            url: '/api/v1/exports',
            key: owner.apiKey,
            body: { reportId: bad.body.id, format: 'csv' },
          })
        ).body.id,
      );
      assert.equal(run.status, 'failed');
      assert.match(run.error, /relation "no_such_table" does not exist/);
      assert.equal(run.attempts, 1, 'a permanent error is not retried');
      assert.equal((await download(t, owner.apiKey, run.id)).status, 409);
      const retried = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${run.id}/retry`,
        key: owner.apiKey,
      });
      assert.equal(retried.status, 202);
      const again = await waitForRun(t, owner.apiKey, run.id, (r) => r.status === 'failed');
      assert.equal(again.attempts, 2);
      assert.equal(again.attemptHistory.length, 2);
      assert.equal(
        (await call(t, { method: 'POST', url: `/api/v1/runs/${run.id}/cancel`, key: owner.apiKey })).status,
        409,
      );
    });

    test('S10: cancel while running stops the worker, ends the run cancelled and leaves no file', async () => {
      const connectionId = (await call(t, { url: `/api/v1/reports/${reportId}`, key: owner.apiKey })).body
        .connectionId;
      await t.ctx.db.exec(CREATE_PACED_FUNCTION);
      const slow = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: { name: 'Slow', connectionId, sql: pacedSql(1) },
      });
      const started = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId: slow.body.id, format: 'csv' },
      });
      // Mid-way: rows have been written.
      await waitForRun(
        t,
        owner.apiKey,
        started.body.id,
        (r) => r.status === 'running' && r.progress.rows > 0,
      );
      const cancelled = await call(t, {
        method: 'POST',
        url: `/api/v1/runs/${started.body.id}/cancel`,
        key: owner.apiKey,
      });
      assert.equal(cancelled.status, 200);
      const run = await waitForRun(t, owner.apiKey, started.body.id);
      assert.equal(run.status, 'cancelled');
      assert.equal(run.fileName, null);
      const tmp = await readdir(join(t.ctx.config.dataDir, 'artifacts', '.tmp')).catch(() => []);
      assert.deepEqual(
        tmp.filter((f) => f.includes(run.id)),
        [],
      );
    });

    test('incremental exports: last_successful_run is the previous successful run of the report', async () => {
      const connectionId = (await call(t, { url: `/api/v1/reports/${reportId}`, key: owner.apiKey })).body
        .connectionId;
      const incremental = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: {
          name: 'New customers',
          connectionId,
          sql: 'SELECT id FROM customers WHERE created_at >= {{since}}',
          parameters: [{ name: 'since', type: 'datetime', default: 'last_successful_run' }],
        },
      });
      const go = async () =>
        waitForRun(
          t,
          owner.apiKey,
          (
            await call(t, {
              method: 'POST',
              url: '/api/v1/exports',
              key: owner.apiKey,
              body: { reportId: incremental.body.id, format: 'ndjson' },
            })
          ).body.id,
        );
      const first = await go();
      assert.equal(first.rowCount, expectedRows, 'the first run has no previous one: everything');
      const second = await go();
      assert.equal(second.status, 'succeeded');
      assert.equal(second.rowCount, 0, 'nothing was created since the first run');
    });

    test('S13: expired files are deleted by the cleanup job (the run stays), and so are abandoned temporary files', async () => {
      const run = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'csv' })).body.id);
      await t.ctx.db.query(
        "UPDATE artifacts SET expires_at = now() - interval '1 minute' WHERE run_id = $1",
        [run.id],
      );
      const tmpDir = join(t.ctx.config.dataDir, 'artifacts', '.tmp');
      await mkdir(tmpDir, { recursive: true });
      const old = join(tmpDir, 'dead-worker-1-abcd.part');
      const fresh = join(tmpDir, 'live-worker-1-abcd.part');
      await writeFile(old, 'partial');
      await writeFile(fresh, 'partial');
      await utimes(old, new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 2 * 86_400_000));
      const deleted = await cleanupArtifacts(t.ctx);
      assert.ok(deleted >= 1);
      assert.equal((await download(t, owner.apiKey, run.id)).status, 410);
      const kept = await call(t, { url: `/api/v1/runs/${run.id}`, key: owner.apiKey });
      assert.equal(kept.body.status, 'succeeded');
      assert.equal(kept.body.hasFile, false);
      const left = await readdir(tmpDir);
      assert.ok(
        !left.includes('dead-worker-1-abcd.part') && left.includes('live-worker-1-abcd.part'),
        left.join(),
      );
      await rm(fresh);
    });

    test('S5: a published file no artifact points at (a worker died between publishing and recording it) is swept; live files stay', async () => {
      const run = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'csv' })).body.id);
      const root = join(t.ctx.config.dataDir, 'artifacts');
      const orphanDir = join(root, owner.tenantId, '00000000-0000-4000-8000-000000000000', '1');
      await mkdir(orphanDir, { recursive: true });
      const orphan = join(orphanDir, 'crashed.csv');
      await writeFile(orphan, 'id\n1\n');
      const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
      await utimes(orphan, twoDaysAgo, twoDaysAgo);
      // The live file is as old, so only the missing artifact row tells them apart.
      const live = await t.ctx.db.query<{ key: string }>('SELECT key FROM artifacts WHERE run_id = $1', [
        run.id,
      ]);
      await utimes(join(root, live.rows[0]!.key), twoDaysAgo, twoDaysAgo);
      assert.equal(await removeOrphanFiles(t.ctx, 86_400_000), 1);
      await assert.rejects(stat(orphan));
      assert.equal((await download(t, owner.apiKey, run.id)).status, 200);
    });

    test('per-tenant limits: an instance admin sets them; an export over the row limit fails saying so', async () => {
      const limits = await call(t, {
        method: 'PUT',
        url: `/api/v1/admin/tenants/${owner.tenantId}/limits`,
        key: owner.apiKey,
        body: { maxExportRows: 10, maxExportBytes: null, maxRunSeconds: null },
      });
      assert.equal(limits.status, 200, limits.text);
      assert.equal(limits.body.effective.maxExportRows, 10);
      assert.equal(limits.body.effective.maxRunSeconds, 3600);
      const run = await waitForRun(t, owner.apiKey, (await exportRun({ format: 'csv' })).body.id);
      assert.equal(run.status, 'failed');
      assert.match(run.error, /exceeds the limit of 10 rows/);
      assert.equal(run.attempts, 1, 'a limit is not retried');
      await call(t, {
        method: 'PUT',
        url: `/api/v1/admin/tenants/${owner.tenantId}/limits`,
        key: owner.apiKey,
        body: { maxExportRows: null, maxExportBytes: null, maxRunSeconds: null },
      });
      const bad = await call(t, {
        method: 'PUT',
        url: `/api/v1/admin/tenants/${owner.tenantId}/limits`,
        key: owner.apiKey,
        body: { maxExportRows: 0, maxExportBytes: null, maxRunSeconds: null },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.errors[0].path, 'maxExportRows');
    });

    test('statistics: runs, failures, rows, bytes and durations per report, format and day', async () => {
      const stats = await call(t, { url: '/api/v1/stats', key: owner.apiKey });
      assert.equal(stats.status, 200, stats.text);
      assert.ok(stats.body.total.runs >= 8);
      assert.ok(stats.body.total.failed >= 1);
      assert.ok(stats.body.total.rows >= expectedRows);
      const csv = stats.body.byFormat.find((f: { key: string }) => f.key === 'csv');
      assert.ok(csv.succeeded >= 2 && csv.durationP50Ms !== null && csv.durationP95Ms >= csv.durationP50Ms);
      assert.ok(stats.body.byReport.some((r: { key: string }) => r.key === 'Customer list'));
      assert.equal(stats.body.byDay.length >= 1, true);
      assert.equal(
        (
          await call(t, {
            url: '/api/v1/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
            key: owner.apiKey,
          })
        ).status,
        400,
      );
    });

    test('bad export requests: a clear 400 naming the field', async () => {
      assert.equal((await exportRun({ format: 'docx' })).status, 400);
      const option = await exportRun({ format: 'csv', formatOptions: { delimiter: 'ab' } });
      assert.equal(option.status, 400);
      assert.equal(option.body.errors[0].path, 'formatOptions.delimiter');
      const foreign = await exportRun({ format: 'xml', formatOptions: { delimiter: ';' } });
      assert.equal(foreign.body.errors[0].path, 'formatOptions.delimiter');
      const fileName = await exportRun({ format: 'csv', formatOptions: { fileName: '{nope}.csv' } });
      assert.equal(fileName.body.errors[0].path, 'formatOptions.fileName');
      const param = await exportRun({ format: 'csv', parameters: { country: 5 } });
      assert.equal(param.body.errors[0].path, 'parameters.country');
      const zone = await exportRun({ format: 'csv', timezone: 'Nowhere/Land' });
      assert.equal(zone.body.errors[0].path, 'timezone');
    });
  });
}
