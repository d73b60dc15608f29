import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';
import yauzl from 'yauzl';
import {
  call,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { waitForRun } from '../helpers/runs.ts';

// Accounting exports end to end on the demo ledger: the built-in DATEV and BMD
// templates run from a fresh workspace, the file read back with an independent
// Windows-1252 decoder and CSV parser and checked against the ledger itself;
// bad settings and rows refused before any file is made.

const cp1252 = new TextDecoder('windows-1252');
const OCTOBER = { from: '2026-10-01', to: '2026-10-31' };
const DATEV = { consultantNumber: 29098, clientNumber: 55003, chartOfAccounts: '03' };

for (const backend of backends()) {
  describe(`accounting exports (${backend})`, () => {
    let t: TestApp;
    let owner: TenantHandle;
    let datevReport: string;
    let bmdReport: string;
    let saftReport: string;

    before(async () => {
      t = await createTestApp(backend, { roles: ['api', 'worker'] });
      owner = await setupFirstTenant(t);
      datevReport = (await reportFromTemplate(t, owner.apiKey, 'datev-bookings')).body.id;
      bmdReport = (await reportFromTemplate(t, owner.apiKey, 'bmd-bookings')).body.id;
      saftReport = (await reportFromTemplate(t, owner.apiKey, 'saft-journal')).body.id;
    });
    after(() => t.close());

    const exportRun = async (
      reportId: string,
      format: string,
      formatOptions: object,
      parameters = OCTOBER,
    ) => {
      const r = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId, format, formatOptions, parameters },
      });
      assert.equal(r.status, 202, r.text);
      return waitForRun(t, owner.apiKey, r.body.id);
    };
    const download = async (runId: string) =>
      (
        await t.app.inject({
          url: `/api/v1/runs/${runId}/download`,
          headers: { authorization: `Bearer ${owner.apiKey}` },
        })
      ).rawPayload;
    /** The ledger's own figures for October, straight from the demo tables. */
    const ledger = async () =>
      (
        await t.ctx.db.query<{ entries: number; signed_total: string }>(
          `SELECT count(DISTINCT e.id)::int AS entries, sum(l.debit)::text AS signed_total
             FROM demo.journal_entries e JOIN demo.journal_lines l ON l.entry_id = e.id
            WHERE e.posted_on BETWEEN $1 AND $2`,
          [OCTOBER.from, OCTOBER.to],
        )
      ).rows[0]!;

    test('the DATEV template on the demo ledger: an EXTF file whose bookings are the ledger’s documents, to the cent', async () => {
      const run = await exportRun(datevReport, 'datev', DATEV);
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.match(run.fileName, /^EXTF_DATEV-bookings-Buchungsstapel_\d{4}-\d{2}-\d{2}\.csv$/);
      assert.equal(run.contentType, 'text/csv; charset=windows-1252');
      const bytes = await download(run.id);
      const text = cp1252.decode(bytes);
      assert.ok(text.endsWith('\r\n') && !/[^\r]\n/.test(text), 'CRLF line endings only');
      const records = parse(text, { delimiter: ';', relax_column_count: true }) as string[][];
      const [header, names, ...bookings] = records;
      assert.deepEqual(header!.slice(0, 5), ['EXTF', '700', '21', 'Buchungsstapel', '13']);
      assert.deepEqual(header!.slice(10, 16), ['29098', '55003', '20260101', '4', '20261001', '20261031']);
      assert.equal(header![26], '03');
      assert.equal(names!.length, 125);
      const { entries, signed_total } = await ledger();
      assert.equal(bookings.length, entries, 'one booking per document');
      assert.equal(run.rowCount, entries);
      // Σ S − Σ H in the file equals the ledger's signed total of debits (credit notes negative).
      const net = bookings.reduce((sum, b) => {
        const cents = BigInt(b[0]!.replace(',', ''));
        return b[1] === 'S' ? sum + cents : sum - cents;
      }, 0n);
      assert.equal(net, BigInt(signed_total.replace('.', '')));
      for (const b of bookings) {
        assert.match(b[9]!, /^\d{2}10$/, 'Belegdatum TTMM in October');
        assert.match(b[6]!, /^\d{4}$/);
        assert.ok(['S', 'H'].includes(b[1]!));
        // Automatic accounts carry no tax key; an expense on 4600 carries 9.
        if (b[6] === '4600') assert.equal(b[8], '9');
        if (b[6] === '1400' || b[6] === '3400') assert.equal(b[8], '');
      }
      assert.ok(text.includes('Müller & Co.'), 'umlauts survive as Windows-1252');
      assert.ok(bytes.includes(Buffer.from([0xfc])), 'ü is the single byte 0xFC');
    });

    test('the DATEV debtors template: one Debitoren/Kreditoren line per customer, in DATEV’s columns', async () => {
      const report = (await reportFromTemplate(t, owner.apiKey, 'datev-debtors')).body.id;
      const run = await exportRun(report, 'datev', { ...DATEV, kind: 'accounts' }, {} as typeof OCTOBER);
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      const records = parse(cp1252.decode(await download(run.id)), {
        delimiter: ';',
        relax_column_count: true,
      }) as string[][];
      const [header, names, ...accounts] = records;
      assert.deepEqual(header!.slice(0, 5), ['EXTF', '700', '16', 'Debitoren/Kreditoren', '5']);
      assert.deepEqual([header![14], header![15]], ['', ''], 'master data has no period');
      assert.equal(names!.length, 254);
      const customers = await t.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM demo.customers');
      assert.equal(accounts.length, customers.rows[0]!.n);
      const name = names!.indexOf('Name (Adressatentyp Unternehmen)');
      for (const a of accounts) {
        assert.match(a[0]!, /^\d{5}$/, 'a personal account of five digits');
        assert.ok(a[name]!.length > 0);
      }
    });

    test('the BMD template: the default field list, TT.MM.JJJJ dates and buchcode from the sign', async () => {
      const run = await exportRun(bmdReport, 'bmd', {});
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      const records = parse(cp1252.decode(await download(run.id)), { delimiter: ';' }) as string[][];
      assert.deepEqual(records[0], [
        'satzart',
        'konto',
        'gkonto',
        'belegnr',
        'belegdatum',
        'buchsymbol',
        'buchcode',
        'prozent',
        'steuercode',
        'betrag',
        'steuer',
        'text',
      ]);
      const { entries } = await ledger();
      assert.equal(records.length - 1, entries);
      for (const r of records.slice(1)) {
        assert.match(r[4]!, /^\d{2}\.10\.2026$/);
        assert.ok(['1', '2'].includes(r[6]!));
        assert.match(r[9]!, /^\d+,\d{2}$/);
        assert.ok(['AR', 'ER'].includes(r[5]!));
      }
    });

    test('the SAF-T template: a journal whose entries, totals and closing balances are the ledger’s', async () => {
      const run = await exportRun(saftReport, 'saft', {
        companyName: 'Fjord Handel AS',
        registrationNumber: '999999999',
        city: 'Oslo',
        postalCode: '0155',
        contactFirstName: 'Kari',
        contactLastName: 'Nordmann',
        telephone: '+47 22 00 00 00',
      });
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.equal(run.contentType, 'application/xml');
      const xml = (await download(run.id)).toString('utf8');
      const file = new XMLParser({
        parseTagValue: false,
        ignoreAttributes: false,
        isArray: (name) => ['Account', 'Transaction', 'Line'].includes(name),
      }).parse(xml).AuditFile;
      assert.equal(file['@_xmlns'], 'urn:StandardAuditFile-Taxation-Financial:NO');
      const gl = file.GeneralLedgerEntries;
      const { entries } = await ledger();
      assert.equal(Number(gl.NumberOfEntries), entries);
      assert.equal(gl.Journal.Transaction.length, entries);
      assert.equal(gl.TotalDebit, gl.TotalCredit, 'the journal balances');
      // Each account's closing balance is its opening balance plus its lines, from the ledger itself.
      const balances = await t.ctx.db.query<{ account: string; closing: string }>(
        `SELECT l.account, sum(l.debit - l.credit)::text AS closing
           FROM demo.journal_lines l JOIN demo.journal_entries e ON e.id = l.entry_id
          WHERE e.posted_on <= $1 AND l.account IN (
            SELECT l2.account FROM demo.journal_lines l2 JOIN demo.journal_entries e2 ON e2.id = l2.entry_id
             WHERE e2.posted_on BETWEEN $2 AND $1)
          GROUP BY l.account`,
        [OCTOBER.to, OCTOBER.from],
      );
      const accounts = new Map(
        file.MasterFiles.GeneralLedgerAccounts.Account.map(
          (a: { AccountID: string; ClosingDebitBalance?: string; ClosingCreditBalance?: string }) => [
            a.AccountID,
            a.ClosingDebitBalance ?? `-${a.ClosingCreditBalance}`,
          ],
        ),
      );
      assert.equal(accounts.size, balances.rows.length);
      for (const b of balances.rows)
        assert.equal(Number(accounts.get(b.account)), Number(b.closing), `closing balance of ${b.account}`);
    });

    test('validate: the settings and a sample of rows checked without a file, the first lines shown', async () => {
      const check = (body: object) =>
        call(t, {
          method: 'POST',
          url: `/api/v1/reports/${datevReport}/format-check`,
          key: owner.apiKey,
          body,
        });
      const ok = await check({ format: 'datev', formatOptions: DATEV, parameters: OCTOBER, rows: 5 });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.ok, true, ok.text);
      assert.equal(ok.body.rowsChecked, 5, 'a sample: the rows asked for');
      assert.match(ok.body.preview, /^"EXTF";700;21;"Buchungsstapel";13;/);
      assert.equal(
        ok.body.preview.split('\n').length,
        2 + 5,
        'header, column line and the sample’s bookings',
      );

      const outside = await check({
        format: 'datev',
        formatOptions: { ...DATEV, mapping: { documentDate: { value: '2026-09-30' } } },
        parameters: OCTOBER,
      });
      assert.equal(outside.body.ok, false);
      assert.deepEqual(
        { row: outside.body.problem.row, field: outside.body.problem.field },
        { row: 1, field: 'Belegdatum' },
      );
      assert.match(outside.body.problem.message, /2026-09-30 is outside the period 2026-10-01 – 2026-10-31/);

      const unmapped = await check({
        format: 'datev',
        formatOptions: { ...DATEV, mapping: { amount: { column: 'betrag' } } },
        parameters: OCTOBER,
      });
      assert.equal(unmapped.body.ok, false);
      assert.match(unmapped.body.problem.message, /field Umsatz: the mapping reads column "betrag"/);

      const missing = await check({
        format: 'datev',
        formatOptions: { clientNumber: 1 },
        parameters: OCTOBER,
      });
      assert.equal(missing.status, 400, missing.text);
      assert.equal(missing.body.errors[0].path, 'formatOptions.consultantNumber');
    });

    test('a run whose rows the format cannot take fails naming row and field, and leaves no file', async () => {
      const run = await exportRun(datevReport, 'datev', {
        ...DATEV,
        accountLength: 4,
        mapping: { account: { value: '1234567' } },
      });
      assert.equal(run.status, 'failed');
      assert.match(run.error, /^The file cannot be made: row 1, field Konto: 1234567 has 7 digits/);
      assert.equal(run.errorStage, 'file');
      assert.equal(run.attempts, 1, 'the same rows would fail again: no retry');
      assert.equal(run.fileName, null);
    });

    test('DATEV over a year end: one file per fiscal year in a zip archive, together the ledger’s documents', async () => {
      const period = { from: '2025-12-01', to: '2026-01-31' };
      const run = await exportRun(datevReport, 'datev', DATEV, period);
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.equal(run.contentType, 'application/zip');
      assert.match(run.fileName, /^EXTF_.*\.zip$/);
      const archive = await download(run.id);
      const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
        yauzl.fromBuffer(archive, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z!))),
      );
      const files: Record<string, string[][]> = {};
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: yauzl.Entry) =>
          zip.openReadStream(entry, async (err, stream) => {
            if (err) return reject(err);
            const chunks: Buffer[] = [];
            for await (const c of stream!) chunks.push(c as Buffer);
            files[entry.fileName] = parse(cp1252.decode(Buffer.concat(chunks)), {
              delimiter: ';',
              relax_column_count: true,
            }) as string[][];
            zip.readEntry();
          }),
        );
        zip.on('end', () => resolve());
        zip.on('error', reject);
        zip.readEntry();
      });
      assert.deepEqual(Object.keys(files), [
        'EXTF_Buchungsstapel_20251201-20251231.csv',
        'EXTF_Buchungsstapel_20260101-20260131.csv',
      ]);
      const december = files['EXTF_Buchungsstapel_20251201-20251231.csv']!;
      const january = files['EXTF_Buchungsstapel_20260101-20260131.csv']!;
      assert.equal(december[0]![12], '20250101', 'WJ-Beginn of 2025');
      assert.equal(january[0]![12], '20260101', 'WJ-Beginn of 2026');
      const entries = await t.ctx.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM demo.journal_entries WHERE posted_on BETWEEN $1 AND $2',
        [period.from, period.to],
      );
      assert.equal(december.length - 2 + january.length - 2, entries.rows[0]!.n);
      for (const b of december.slice(2)) assert.match(b[9]!, /^\d{2}12$/);
      for (const b of january.slice(2)) assert.match(b[9]!, /^\d{2}01$/);
    });
  });
}
