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
      'invoicefdp.exe',
      `U+${c.codePointAt(0)!.toString(16)}`,
    );
  assert.equal(renderFileName('\u202e{ext}', values), 'pdf');
});

test('C0 and C1 control characters become underscores; ordinary non-Latin text stays', () => {
  assert.equal(renderFileName('a\u0007b\u0085c.{ext}', values), 'a_b_c.pdf');
  assert.equal(renderFileName('Отчёт ‏עברית.{ext}', values), 'Отчёт עברית.pdf');
});
