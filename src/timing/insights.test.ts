import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeOccurrences, timingWarnings } from './insights.ts';
import { compileDefinition } from './timing.ts';

const upcoming = (cron: string, tz: string, from: string, n: number) =>
  compileDefinition({ cron, time_zone: tz, calendar: null, day_rule: null }, new Date(from)).upcoming(
    new Date(from),
    n,
  );

describe('timing insights', () => {
  test('S3: Berlin 02:30 on the spring-forward day: the day is flagged and 02:30 is named as moved', () => {
    const runs = describeOccurrences(
      '30 2 * * *',
      'Europe/Berlin',
      upcoming('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3),
    );
    assert.deepEqual(runs, [
      { at: '2026-03-28T01:30:00.000Z', offsetChange: null, requestedTime: null },
      {
        at: '2026-03-29T01:00:00.000Z',
        offsetChange: { from: '+01:00', to: '+02:00' },
        requestedTime: '02:30',
      },
      { at: '2026-03-30T00:30:00.000Z', offsetChange: null, requestedTime: null },
    ]);
  });

  test('S3: the fall-back day is flagged; a time outside the gap is not called moved', () => {
    const runs = describeOccurrences(
      '0 9 * * *',
      'Europe/Berlin',
      upcoming('0 9 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2),
    );
    assert.deepEqual(runs[0], {
      at: '2026-10-25T08:00:00.000Z',
      offsetChange: { from: '+02:00', to: '+01:00' },
      requestedTime: null,
    });
    assert.equal(runs[1]!.offsetChange, null);
  });

  test('a zone that changes at midnight (Santiago) flags that day; UTC never does', () => {
    const [first] = describeOccurrences(
      '0 9 * * *',
      'America/Santiago',
      upcoming('0 9 * * *', 'America/Santiago', '2026-09-05T18:00:00Z', 1),
    );
    assert.deepEqual(first!.offsetChange, { from: '-04:00', to: '-03:00' });
    const utc = describeOccurrences(
      '0 9 * * *',
      'UTC',
      upcoming('0 9 * * *', 'UTC', '2026-03-28T00:00:00Z', 3),
    );
    assert.ok(utc.every((r) => r.offsetChange === null && r.requestedTime === null));
  });

  test('wildcard hours fire at real instants: no moved time is claimed', () => {
    const runs = describeOccurrences(
      '30 * * * *',
      'Europe/Berlin',
      upcoming('30 * * * *', 'Europe/Berlin', '2026-03-29T00:00:00Z', 3),
    );
    assert.ok(runs.every((r) => r.requestedTime === null));
  });

  test('warnings: day 31, too frequent, and both day fields (OR)', () => {
    const codes = (cron: string) =>
      timingWarnings(cron, upcoming(cron, 'UTC', '2026-01-01T00:00:00Z', 6)).map((w) => w.code);
    assert.deepEqual(codes('0 9 31 * *'), ['short_months']);
    assert.deepEqual(codes('0 9 28 * *'), []);
    assert.deepEqual(codes('*/5 * * * *'), ['frequent']);
    assert.deepEqual(codes('0 * * * *'), []);
    assert.deepEqual(codes('0 9 1 * 1'), ['day_or_weekday']);
    assert.deepEqual(codes('0 9 * * 1-5'), []);
    const [frequent] = timingWarnings(
      '*/5 * * * *',
      upcoming('*/5 * * * *', 'UTC', '2026-01-01T00:00:00Z', 6),
    );
    assert.deepEqual(frequent && 'minutes' in frequent ? frequent.minutes : null, 5);
  });
});
