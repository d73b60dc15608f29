import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { relativeToDate, relativeToInstant } from '../modules/reports/relative-dates.ts';
import { isValidTimeZone, localParts, localPartsIn, zonedToUtc } from './zoned-time.ts';

describe('time zones', () => {
  test('local wall time to instant, across DST gaps and overlaps', () => {
    const at = (y: number, mo: number, d: number, h: number, mi: number, tz: string) =>
      zonedToUtc({ year: y, month: mo, day: d, hour: h, minute: mi, second: 0 }, tz).toISOString();
    assert.equal(at(2026, 1, 15, 0, 0, 'America/New_York'), '2026-01-15T05:00:00.000Z');
    // Spring forward: 02:30 does not exist in Berlin → the first valid instant, 03:00 CEST.
    assert.equal(at(2026, 3, 29, 2, 30, 'Europe/Berlin'), '2026-03-29T01:00:00.000Z');
    // Fall back: 02:30 happens twice → the first pass (CEST).
    assert.equal(at(2026, 10, 25, 2, 30, 'Europe/Berlin'), '2026-10-25T00:30:00.000Z');
    // Lord Howe moves by 30 minutes.
    assert.equal(at(2026, 10, 4, 2, 15, 'Australia/Lord_Howe'), '2026-10-03T15:30:00.000Z');
    assert.equal(isValidTimeZone('Europe/Berlin'), true);
    assert.equal(isValidTimeZone('Mars/Olympus'), false);
  });

  test('relative dates are evaluated in the given zone', () => {
    // 23:30 UTC on 31 March is already 1 April in Berlin.
    const ctx = {
      now: new Date('2026-03-31T23:30:00Z'),
      timeZone: 'Europe/Berlin',
      lastSuccessfulRunAt: null,
    };
    assert.equal(relativeToDate('today', ctx), '2026-04-01');
    assert.equal(relativeToDate('yesterday', ctx), '2026-03-31');
    assert.equal(relativeToDate('start_of_month', ctx), '2026-04-01');
    assert.equal(relativeToDate('start_of_last_month', ctx), '2026-03-01');
    assert.equal(relativeToDate('end_of_last_month', ctx), '2026-03-31');
    assert.equal(relativeToDate('start_of_quarter', ctx), '2026-04-01');
    assert.equal(relativeToDate('start_of_year', ctx), '2026-01-01');
    assert.equal(relativeToDate('start_of_week', ctx), '2026-03-30');
    assert.equal(relativeToDate('today', { ...ctx, timeZone: 'UTC' }), '2026-03-31');
    assert.equal(relativeToDate('last_successful_run', ctx), '1970-01-01');
    assert.equal(relativeToInstant('start_of_month', ctx).toISOString(), '2026-03-31T22:00:00.000Z');
    assert.equal(relativeToInstant('run_time', ctx).toISOString(), '2026-03-31T23:30:00.000Z');
    const since = new Date('2026-03-20T08:00:00Z');
    assert.equal(relativeToInstant('last_successful_run', { ...ctx, lastSuccessfulRunAt: since }), since);
    // January → last month is December of the year before.
    assert.equal(
      relativeToDate('end_of_last_month', { ...ctx, now: new Date('2026-01-10T12:00:00Z') }),
      '2025-12-31',
    );
  });
});

test('localPartsIn gives the same fields as localParts, across DST transitions and odd historic offsets', () => {
  for (const zone of [
    'UTC',
    'Europe/Berlin',
    'America/New_York',
    'Australia/Lord_Howe',
    'Asia/Kathmandu',
    'Europe/Amsterdam',
  ]) {
    const fast = localPartsIn(zone);
    // Every 7 minutes 13 seconds through two DST-changing days, plus 1937 (Amsterdam's +00:19:32).
    const ranges: Array<[number, number]> = [
      [Date.UTC(2026, 2, 28), Date.UTC(2026, 2, 30)],
      [Date.UTC(2026, 9, 24), Date.UTC(2026, 10, 2)],
      [Date.UTC(2026, 3, 3), Date.UTC(2026, 3, 6)],
      [Date.UTC(1937, 6, 1), Date.UTC(1937, 6, 2)],
    ];
    for (const [from, to] of ranges)
      for (let ms = from; ms < to; ms += 433_000 + 17) {
        const at = new Date(ms);
        assert.deepEqual(fast(at), localParts(at, zone), `${zone} ${at.toISOString()}`);
      }
  }
});
