import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveFormat } from '../../src/engine/formats/registry.ts';
import {
  call,
  createKey,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { waitForRun } from '../helpers/runs.ts';

// GET /api/v1/formats describes what forms may offer; POST /api/v1/formats/file-name
// shows the file name a run writes; what reports add for the editor: search,
// resolved parameters in preview, and resolving parameters before anything runs.

interface Option {
  name: string;
  type: string;
  values?: string[];
  default?: unknown;
  description: string;
}

for (const backend of backends()) {
  describe(`formats and the report editor's helpers (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let viewerKey: string;
    let reportId: string;
    let connectionId: string;
    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker'] });
      owner = await setupFirstTenant(t);
      viewerKey = await createKey(t, owner.apiKey, 'viewer');
      const used = await reportFromTemplate(t, owner.apiKey, 'customer-list', { name: 'Kunden Übersicht' });
      reportId = used.body.id;
      connectionId = used.body.connectionId;
    });
    after(() => t.close());

    test('every format with its extension, content type and only its own options, as the registry takes them', async () => {
      const required: Record<string, object> = {
        datev: { consultantNumber: 1001, clientNumber: 1 },
        saft: {
          companyName: 'A',
          registrationNumber: '1',
          city: 'B',
          postalCode: '1',
          contactFirstName: 'C',
          contactLastName: 'D',
          telephone: '1',
        },
      };
      const r = await call(t, { url: '/api/v1/formats', key: viewerKey });
      assert.equal(r.status, 200, r.text);
      const formats = r.body.formats as Array<{
        format: 'csv';
        extension: string;
        contentType: string;
        options: Option[];
      }>;
      assert.deepEqual(
        formats.map((f) => f.format),
        ['csv', 'tsv', 'xlsx', 'json', 'ndjson', 'xml', 'pdf', 'datev', 'bmd', 'saft'],
      );
      const csv = formats.find((f) => f.format === 'csv')!;
      assert.equal(csv.extension, 'csv');
      assert.equal(csv.contentType, 'text/csv; charset=utf-8');
      assert.deepEqual(
        csv.options.find((o) => o.name === 'lineEnding'),
        {
          name: 'lineEnding',
          type: 'enum',
          values: ['crlf', 'lf'],
          default: 'crlf',
          description: csv.options.find((o) => o.name === 'lineEnding')!.description,
        },
      );
      for (const f of formats) {
        // Every described default is accepted, and the defaults together are the format's own.
        // (A structured option's default is JSON text; the accounting formats' required settings have none.)
        const defaults = {
          ...required[f.format],
          ...Object.fromEntries(
            f.options
              .filter((o) => o.default !== undefined)
              .map((o) => [o.name, o.type === 'json' ? JSON.parse(String(o.default)) : o.default]),
          ),
        };
        assert.doesNotThrow(() => resolveFormat(f.format, defaults), f.format);
        for (const o of f.options) assert.ok(o.description.length > 10, `${f.format}.${o.name}`);
        // Options of other formats are refused for this one: the list is exactly what it takes.
        const others = formats
          .flatMap((g) => g.options.map((o) => o.name))
          .filter((name) => !f.options.some((o) => o.name === name));
        for (const name of others)
          assert.throws(() => resolveFormat(f.format, { [name]: 'x' }), /is not an option of/, name);
      }
      assert.deepEqual(
        (r.body.common as Option[]).map((o) => [o.name, o.default]),
        [
          ['compression', 'none'],
          ['fileName', '{report}_{date:yyyy-MM-dd_HHmmss}.{ext}'],
        ],
      );
      assert.deepEqual(r.body.common[0].values, ['none', 'gzip', 'zip']);
      assert.ok(
        r.body.fileName.placeholders.some((p: { placeholder: string }) => p.placeholder === '{report}'),
      );

      const anonymous = await call(t, { url: '/api/v1/formats' });
      assert.equal(anonymous.status, 401);
    });

    test('the file-name example of a format with required settings needs none of them, but checks what is given', async () => {
      const example = (formatOptions: object) =>
        call(t, {
          method: 'POST',
          url: '/api/v1/formats/file-name',
          key: owner.apiKey,
          body: { format: 'datev', formatOptions, reportName: 'Journal', at: '2026-11-03T08:00:00Z' },
        });
      const half = await example({});
      assert.equal(half.status, 200, half.text);
      assert.equal(half.body.fileName, 'EXTF_Journal_2026-11-03.csv');
      const wrong = await example({ consultantNumber: 12 });
      assert.equal(wrong.status, 400, wrong.text);
      assert.equal(wrong.body.errors[0].path, 'formatOptions.consultantNumber');
    });

    test('the file-name example is the name the run writes: template, zone, compression', async () => {
      const formatOptions = { compression: 'zip', fileName: '{report}-{date:yyyyMMdd-HHmm}.{ext}' };
      const started = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId, format: 'csv', formatOptions, timezone: 'Europe/Vienna' },
      });
      assert.equal(started.status, 202, started.text);
      const run = await waitForRun(t, owner.apiKey, started.body.id);
      assert.equal(run.status, 'succeeded', run.error);
      const example = await call(t, {
        method: 'POST',
        url: '/api/v1/formats/file-name',
        key: viewerKey,
        body: {
          format: 'csv',
          formatOptions,
          reportName: 'Kunden Übersicht',
          timezone: 'Europe/Vienna',
          at: run.createdAt,
        },
      });
      assert.equal(example.status, 200, example.text);
      assert.equal(example.body.fileName, run.fileName);
      assert.match(example.body.fileName, /^Kunden-Ubersicht-\d{8}-\d{4}\.csv\.zip$/);
      assert.equal(example.body.compression, 'zip');

      const plain = await call(t, {
        method: 'POST',
        url: '/api/v1/formats/file-name',
        key: viewerKey,
        body: { format: 'xlsx', reportName: 'Q1', timezone: 'UTC', at: '2026-03-31T22:15:09Z' },
      });
      assert.equal(plain.body.fileName, 'Q1_2026-03-31_221509.xlsx');
    });

    test('a wrong template, option or zone is a 400 naming the field', async () => {
      const ask = (body: object) =>
        call(t, {
          method: 'POST',
          url: '/api/v1/formats/file-name',
          key: viewerKey,
          body: { format: 'csv', reportName: 'r', ...body },
        });
      const badTemplate = await ask({ formatOptions: { fileName: '{customer}.{ext}' } });
      assert.equal(badTemplate.status, 400);
      assert.equal(badTemplate.body.errors[0].path, 'formatOptions.fileName');
      assert.match(badTemplate.body.errors[0].message, /unknown placeholder \{customer\}/);
      const badOption = await ask({ formatOptions: { sheetName: 'x' } });
      assert.equal(badOption.status, 400);
      assert.equal(badOption.body.errors[0].path, 'formatOptions.sheetName');
      // Checked against the request's format: one message per option with its rule,
      // not a complaint from each format the body schema knows.
      const badValues = await ask({
        format: 'xml',
        formatOptions: { rootElement: '1st', compression: 'rar' },
      });
      assert.equal(badValues.status, 400);
      assert.deepEqual(badValues.body.errors, [
        {
          path: 'formatOptions.rootElement',
          message:
            'must be an XML element name: a letter or _, then letters, digits, _ . or -, not starting with "xml"',
        },
        { path: 'formatOptions.compression', message: 'must be one of none, gzip, zip' },
      ]);
      const badZone = await ask({ timezone: 'Mars/Olympus' });
      assert.equal(badZone.status, 400);
      assert.equal(badZone.body.errors[0].path, 'timezone');
    });

    test('reports: search by name or description, case-insensitive, wildcards as text', async () => {
      const list = async (q: string) =>
        (await call(t, { url: `/api/v1/reports?q=${encodeURIComponent(q)}`, key: viewerKey })).body.items.map(
          (r: { name: string }) => r.name,
        );
      assert.deepEqual(await list('übersicht'), ['Kunden Übersicht']);
      assert.deepEqual(await list('%'), []);
      assert.deepEqual(await list('no such report'), []);
    });

    test('preview shows the parameter values it ran with; resolve tells them before running', async () => {
      const parameters = [
        { name: 'from', type: 'date', default: 'start_of_last_month' },
        { name: 'n', type: 'integer', default: 3 },
      ];
      const preview = await call(t, {
        method: 'POST',
        url: '/api/v1/reports/preview',
        key: owner.apiKey,
        body: {
          report: { connectionId, sql: 'SELECT {{from}} AS d, {{n}} AS n', parameters },
          parameters: { n: '7' },
          timezone: 'Europe/Berlin',
        },
      });
      assert.equal(preview.status, 200, preview.text);
      assert.equal(preview.body.parameters.n, 7);
      assert.match(preview.body.parameters.from, /^\d{4}-\d{2}-01$/);

      const resolved = await call(t, {
        method: 'POST',
        url: '/api/v1/reports/parameters/resolve',
        key: viewerKey,
        body: {
          parameters: [...parameters, { name: 'to', type: 'date' }, { name: 'at', type: 'datetime' }],
          values: { n: 'many', at: 'start_of_month' },
          timezone: 'Europe/Berlin',
          at: '2026-01-15T08:00:00Z',
        },
      });
      assert.equal(resolved.status, 200, resolved.text);
      assert.deepEqual(resolved.body.values, {
        from: '2025-12-01',
        n: null,
        to: null,
        at: '2025-12-31T23:00:00.000Z',
      });
      assert.deepEqual(
        resolved.body.errors.map((e: { path: string }) => e.path),
        ['parameters.n', 'parameters.to'],
      );
      const badZone = await call(t, {
        method: 'POST',
        url: '/api/v1/reports/parameters/resolve',
        key: viewerKey,
        body: { parameters, timezone: 'Nowhere' },
      });
      assert.equal(badZone.status, 400);
    });
  });
}
