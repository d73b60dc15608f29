import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderFileName } from '../../engine/formats/file-name.ts';
import { ExportLimitError } from '../../engine/pipeline.ts';
import { SourceConnectError, SourceQueryError } from '../../engine/sources/types.ts';
import { classifyFailure, lineAndColumn, retryDelayMs } from './failure.ts';
import { attemptJobId } from './jobs.ts';

describe('S8: which failures retry', () => {
  test('retryable: network, server going away, locks, timeouts; permanent: the query, credentials, limits, the unknown', () => {
    const pg = (code: string) => new SourceQueryError('x', { code });
    assert.equal(classifyFailure(pg('42P01')).retryable, false, 'missing table');
    assert.equal(classifyFailure(pg('42601')).retryable, false, 'syntax error');
    for (const code of ['40001', '40P01', '55P03', '57014', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT'])
      assert.equal(classifyFailure(pg(code)).retryable, true, code);
    assert.equal(
      classifyFailure(
        new SourceConnectError('refused', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })),
      ).retryable,
      true,
    );
    assert.equal(
      classifyFailure(
        new SourceConnectError('bad password', Object.assign(new Error('x'), { code: '28P01' })),
      ).retryable,
      false,
    );
    assert.equal(
      classifyFailure(new SourceConnectError('no database', Object.assign(new Error('x'), { code: '3D000' })))
        .retryable,
      false,
    );
    assert.equal(
      classifyFailure(
        new SourceConnectError('denied', Object.assign(new Error('x'), { code: 'ER_ACCESS_DENIED_ERROR' })),
      ).retryable,
      false,
    );
    assert.equal(
      classifyFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).retryable,
      true,
    );
    assert.equal(classifyFailure(new ExportLimitError('too many rows')).retryable, false);
    assert.equal(classifyFailure(new TypeError('a bug')).retryable, false);
    const fs = classifyFailure(
      Object.assign(new Error("ENAMETOOLONG: name too long, open '/srv/ferry/x'"), { code: 'ENAMETOOLONG' }),
    );
    assert.equal(fs.retryable, false);
    assert.ok(!fs.message.includes('/srv/'), 'no server paths in what the tenant sees');
  });

  test('full-jitter backoff: never zero, capped, growing ceiling; one job id per attempt', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      for (let i = 0; i < 50; i++) {
        const d = retryDelayMs(attempt);
        assert.ok(d >= 1000 && d <= 300_000, `${d}`);
      }
    }
    assert.equal(attemptJobId('a', 1), attemptJobId('a', 1));
    assert.notEqual(attemptJobId('a', 1), attemptJobId('a', 2));
  });
});

describe('file names', () => {
  test('templates render in the run zone; long names are cut to 200 bytes without splitting characters', () => {
    const at = new Date('2026-03-31T23:30:00Z');
    assert.equal(
      renderFileName('{report}_{date:yyyy-MM-dd_HHmm}.{ext}', {
        report: 'Sales / Q1 "EU"',
        runId: 'abcdef123',
        ext: 'csv',
        at,
        timeZone: 'Europe/Berlin',
      }),
      'Sales-Q1-EU_2026-04-01_0130.csv',
    );
    const long = renderFileName(`${'中'.repeat(100)}.{ext}`, {
      report: 'r',
      runId: 'x',
      ext: 'xlsx',
      at,
      timeZone: 'UTC',
    });
    assert.ok(Buffer.byteLength(long) <= 200);
    assert.ok(long.endsWith('中.xlsx'));
    assert.throws(
      () => renderFileName('{nope}.csv', { report: 'r', runId: 'x', ext: 'csv', at, timeZone: 'UTC' }),
      /unknown placeholder/,
    );
    const escaped = renderFileName('../../etc/{ext}', {
      report: 'r',
      runId: 'x',
      ext: 'csv',
      at,
      timeZone: 'UTC',
    });
    assert.ok(!escaped.includes('/') && !escaped.startsWith('.'), escaped);
  });
});

describe('a query error names its place in the report SQL', () => {
  test('line and column of a 1-based position; outside the text: none', () => {
    const sql = 'SELECT id,\n  nope\nFROM t';
    assert.equal(lineAndColumn(sql, 1), 'line 1, column 1');
    assert.equal(lineAndColumn(sql, 14), 'line 2, column 3');
    assert.equal(lineAndColumn(sql, 19), 'line 3, column 1');
    assert.equal(lineAndColumn(sql, 0), null);
    assert.equal(lineAndColumn(sql, 99), null);
  });
  test('classifyFailure appends it to the database message', () => {
    const err = new SourceQueryError('column "nope" does not exist', { code: '42703', position: 14 });
    const f = classifyFailure(err, { locate: (p) => lineAndColumn('SELECT id,\n  nope\nFROM t', p) });
    assert.equal(f.message, 'column "nope" does not exist (line 2, column 3)');
    assert.equal(f.code, 'query');
  });
});
