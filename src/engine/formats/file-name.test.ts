import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderFileName } from './file-name.ts';

const values = {
  report: 'r',
  runId: 'abcdef12',
  ext: 'pdf',
  at: new Date('2026-03-01T00:00:00Z'),
  timeZone: 'UTC',
};

test('bidirectional controls are stripped: a name cannot display as another kind of file', () => {
  // "invoice<RLO>fdp.exe" displays as "invoiceexe.pdf" in a mail client or file manager.
  for (const c of [
    '\u202a',
    '\u202b',
    '\u202c',
    '\u202d',
    '\u202e',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\u200e',
    '\u200f',
    '\u061c',
  ])
    assert.equal(
      renderFileName(`invoice${c}fdp.exe`, values),
      // …and it ends in the format's own extension whatever the template says.
      'invoicefdp.exe.pdf',
      `U+${c.codePointAt(0)!.toString(16)}`,
    );
  assert.equal(renderFileName('\u202e{ext}', values), 'pdf.pdf');
});

test('C0 and C1 control characters become underscores; ordinary non-Latin text stays', () => {
  assert.equal(renderFileName('a\u0007b\u0085c.{ext}', values), 'a_b_c.pdf');
  assert.equal(renderFileName('Отчёт ‏עברית.{ext}', values), 'Отчёт עברית.pdf');
});

test("a template without {ext} still gets the format's extension; one with it gets it once", () => {
  assert.equal(renderFileName('monthly-{date:yyyy-MM}', values), 'monthly-2026-03.pdf');
  assert.equal(renderFileName('{report}.{ext}', values), 'r.pdf');
  assert.equal(renderFileName('report.PDF', values), 'report.PDF');
  assert.equal(renderFileName('report.csv', values), 'report.csv.pdf');
  const long = renderFileName('x'.repeat(300), values);
  assert.ok(long.endsWith('.pdf') && Buffer.byteLength(long) <= 200, long);
});

test("a burst recipient's run is named after its recipient: where the template says, or before the extension", () => {
  const alice = { ...values, recipient: 'Alice.Smith+eu@Example.com' };
  assert.equal(renderFileName('{report}.{ext}', alice), 'r_Alice.Smith-eu-Example.com.pdf');
  assert.equal(renderFileName('report.PDF', alice), 'report_Alice.Smith-eu-Example.com.PDF');
  assert.equal(renderFileName('{recipient}/{report}', alice), 'Alice.Smith-eu-Example.com_r.pdf');
  // Two recipients never share a name; a run without one keeps the template's.
  assert.notEqual(
    renderFileName('{report}.{ext}', alice),
    renderFileName('{report}.{ext}', { ...values, recipient: 'bob@example.com' }),
  );
  assert.equal(renderFileName('{recipient}{report}.{ext}', values), 'r.pdf');
});
