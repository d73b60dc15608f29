import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { deliveryContext } from '../../test/helpers/delivery-context.ts';
import {
  checkPathTemplate,
  PathTemplateError,
  pathValuesFor,
  renderPathTemplate,
  safePathSegment,
} from './path-template.ts';
import type { DeliveryContext, DeliveryFile } from './types.ts';

// Remote paths and keys are built from user text (report and schedule names):
// whatever that text holds, it must stay one folder level under the
// destination's base folder.

const file: DeliveryFile = {
  fileName: 'sales_2026-03-02.csv',
  contentType: 'text/csv',
  size: 3,
  checksum: 'a'.repeat(64),
  open: async () => Readable.from([Buffer.from('a,b')]),
};

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(
    {
      runId: '0b5c6c1e-7a43-4d5f-9c7e-1f2a3b4c5d6e',
      scheduleName: 'Daily sales',
      // 23:30 UTC is already the next day in Berlin (UTC+1 in March).
      runAt: new Date('2026-03-01T23:30:15Z'),
      finishedAt: new Date('2026-03-01T23:31:00Z'),
      timeZone: 'Europe/Berlin',
      rowCount: 10,
    },
    overrides,
  );
}

const render = (template: string, ctx = context()) => renderPathTemplate(template, pathValuesFor(file, ctx));

function errorOf(fn: () => unknown): PathTemplateError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PathTemplateError, `expected a PathTemplateError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a PathTemplateError');
}

describe('path templates', () => {
  test('date parts are local to the schedule zone and the pattern makes folders', () => {
    assert.equal(
      render('{schedule}/{date:yyyy/MM/dd}/{file}'),
      'Daily sales/2026/03/02/sales_2026-03-02.csv',
    );
    assert.equal(render('{date:yyyyMMdd_HHmmss}.{ext}'), '20260302_003015.csv');
    assert.equal(render('{date}/{report}-{run}.{ext}'), `2026-03-02/Sales-${context().runId}.csv`);
    assert.equal(render('x/{date:yyyy-MM-ddTHH.mm}'), 'x/2026-03-02T00.30');
  });

  test('a value never adds a folder or climbs out of one', () => {
    const hostile = context({ reportName: '../../etc/passwd', scheduleName: 'a\\b/..' });
    assert.equal(render('{report}/{schedule}/{file}', hostile), '._._etc_passwd/a_b_./sales_2026-03-02.csv');
    for (const value of ['..', '.', '...', '', '   ', '/', '../..']) {
      const rendered = render('in/{report}/f', context({ reportName: value }));
      const segments = rendered.split('/');
      assert.equal(segments.length, 3, `${JSON.stringify(value)} → ${rendered}`);
      assert.ok(!['', '.', '..'].includes(segments[1]!), `${JSON.stringify(value)} → ${rendered}`);
    }
    assert.equal(render('{schedule}/{file}', context({ scheduleName: null })), '_/sales_2026-03-02.csv');
  });

  test('control and text-direction characters leave values; long values are cut on a character boundary', () => {
    assert.equal(safePathSegment('inv\u202Efdp.exe'), 'invfdp.exe');
    assert.equal(safePathSegment('a\nb\u0000c\u007fd'), 'a_b_c_d');
    const long = safePathSegment('€'.repeat(100));
    assert.ok(Buffer.byteLength(long) <= 200);
    assert.equal(long, '€'.repeat(66));
  });

  test('unknown variables are refused by name', () => {
    assert.match(
      errorOf(() => checkPathTemplate('{schedule}/{customer}.csv')).message,
      /unknown variable \{customer\}/,
    );
    assert.match(errorOf(() => checkPathTemplate('{file:upper}')).message, /\{file\} takes no pattern/);
  });

  test('templates that would leave the base folder or make odd paths are refused', () => {
    const cases: [string, RegExp][] = [
      ['/abs/{file}', /must not start with \//],
      ['a/../{file}', /\.\. as a folder/],
      ['./{file}', /\. or \.\. as a folder/],
      ['a//{file}', /empty folder/],
      ['a/', /must end with a file name/],
      ['a\\{file}', /not \\/],
      ['{file', /does not close/],
      ['a}{file}', /does not close/],
      ['{date:yyyy/../MM}/{file}', /each part between \/ must hold a date token/],
      ['{date:Q}/{file}', /uses none of/],
      ['{date:yyyy:MM}/{file}', /may hold only/],
      ['a\u0007/{file}', /control/],
      ['a\u202e/{file}', /control/],
      ['', /empty/],
    ];
    for (const [template, message] of cases)
      assert.match(errorOf(() => checkPathTemplate(template)).message, message, JSON.stringify(template));
  });
});
