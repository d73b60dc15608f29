import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileTiming, TimingError } from './occurrences.ts';
import { presetToTiming } from './presets.ts';
import { compileDefinition, compileScheduleTiming } from './timing.ts';

const at = (iso: string) => new Date(iso);
const next = (
  cron: string,
  tz: string,
  from: string,
  n = 3,
  calendar = null as null | { country: string; region?: string },
) =>
  compileDefinition({ cron, time_zone: tz, calendar, day_rule: null }, at(from))
    .upcoming(at(from), n)
    .map((d) => d.toISOString());

function rejects(cron: string, tz: string, field: string, message: RegExp) {
  assert.throws(
    () =>
      compileTiming({ cron, timeZone: tz, businessDays: null, dayRule: null }, at('2026-01-01T00:00:00Z')),
    (err: unknown) => err instanceof TimingError && err.field === field && message.test(err.message),
  );
}

describe('occurrences', () => {
  test('S3: Berlin 02:30 fires at 03:00 CEST on the spring-forward day (first valid instant after the gap)', () => {
    assert.deepEqual(next('30 2 * * *', 'Europe/Berlin', '2026-03-28T02:00:00Z', 2), [
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  test('S3: Berlin 02:30 fires once on fall-back (00:30Z), not again at 01:30Z', () => {
    assert.deepEqual(next('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2), [
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  test('S3: a step minute field fires at real instants: the repeated hour twice, the skipped hour not at all', () => {
    assert.deepEqual(next('*/30 * * * *', 'Europe/Berlin', '2026-10-24T23:45:00Z', 6), [
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET (again)
      '2026-10-25T01:30:00.000Z', // 02:30 CET (again)
      '2026-10-25T02:00:00.000Z',
      '2026-10-25T02:30:00.000Z',
    ]);
    assert.deepEqual(next('*/30 * * * *', 'Europe/Berlin', '2026-03-29T00:15:00Z', 3), [
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:00 and 02:30 do not exist
      '2026-03-29T01:30:00.000Z',
    ]);
  });

  test('S3: New York 02:00 on spring-forward fires at 03:00 EDT; 01:30 on fall-back fires once', () => {
    assert.deepEqual(next('0 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 2), [
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:00:00.000Z',
    ]);
    assert.deepEqual(next('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2), [
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  test('S3: Lord Howe (30-minute shift): 02:15 in the gap fires at 02:30; the zone is stored beside UTC instants', () => {
    assert.deepEqual(next('15 2 * * *', 'Australia/Lord_Howe', '2026-10-02T00:00:00Z', 3), [
      '2026-10-02T15:45:00.000Z', // 02:15 +10:30
      '2026-10-03T15:30:00.000Z', // 02:30 +11 (02:00–02:30 does not exist on 4 October)
      '2026-10-04T15:15:00.000Z', // 02:15 +11
    ]);
    // Fall-back: 01:30–02:00 repeats; 01:45 fires once, on its first pass.
    assert.deepEqual(next('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T00:00:00Z', 2), [
      '2026-04-04T14:45:00.000Z',
      '2026-04-05T15:15:00.000Z',
    ]);
  });

  test('S3: the next occurrence is computed forward from the stored one, strictly after it', () => {
    const timing = compileScheduleTiming({
      cron: '0 9 * * *',
      time_zone: 'UTC',
      calendar: null,
      day_rule: null,
    });
    assert.equal(timing.nextAfter(at('2026-01-01T09:00:00Z'))?.toISOString(), '2026-01-02T09:00:00.000Z');
  });

  test('S14: day-of-month and day-of-week both restricted match either (classic cron OR)', () => {
    assert.deepEqual(next('0 9 1 * 1', 'UTC', '2026-01-01T00:00:00Z', 3), [
      '2026-01-01T09:00:00.000Z', // the 1st (a Thursday)
      '2026-01-05T09:00:00.000Z', // a Monday
      '2026-01-12T09:00:00.000Z',
    ]);
  });

  test('S14: malformed expressions, seconds fields, unknown zones and never-firing expressions name the field', () => {
    rejects('0 25 * * *', 'UTC', 'cron', /hour field "25"/);
    rejects('0 0 1 13 *', 'UTC', 'cron', /month field "13"/);
    rejects('* * * *', 'UTC', 'cron', /4 field/);
    rejects('0 0 * * * *', 'UTC', 'cron', /seconds field is not supported/);
    rejects('@daily', 'UTC', 'cron', /field/);
    rejects('0 0 31 2 *', 'UTC', 'cron', /never fires in the next five years/);
    rejects('0 9 * * *', 'Mars/Olympus_Mons', 'timezone', /not an IANA time zone/);
  });

  test('business days: a Bavarian calendar skips weekends and Epiphany; Berlin does not skip Epiphany', () => {
    assert.deepEqual(
      next('0 8 * * *', 'Europe/Berlin', '2026-01-02T12:00:00Z', 2, { country: 'DE', region: 'BY' }),
      [
        '2026-01-05T07:00:00.000Z', // Mon 5 Jan (Sat/Sun skipped)
        '2026-01-07T07:00:00.000Z', // Tue 6 Jan is Epiphany in Bavaria
      ],
    );
    assert.deepEqual(
      next('0 8 * * *', 'Europe/Berlin', '2026-01-02T12:00:00Z', 2, { country: 'DE', region: 'BE' }),
      ['2026-01-05T07:00:00.000Z', '2026-01-06T07:00:00.000Z'],
    );
  });

  test('presets: monthly on the last business day fires at 18:00 local on the last weekday (holidays of the calendar skipped)', () => {
    const t = presetToTiming({ kind: 'monthly', day: 'last_business_day', time: '18:00' });
    const timing = compileDefinition(
      { cron: t.cron, time_zone: 'Europe/Berlin', calendar: null, day_rule: t.dayRule },
      at('2026-01-01T00:00:00Z'),
    );
    assert.deepEqual(
      timing.upcoming(at('2026-01-01T00:00:00Z'), 3).map((d) => d.toISOString()),
      ['2026-01-30T17:00:00.000Z', '2026-02-27T17:00:00.000Z', '2026-03-31T16:00:00.000Z'],
    );
    assert.equal(timing.describe(), 'At 18:00, on the last business day of the month, Europe/Berlin');
    // With Germany's calendar, 2026-12-31 is a Thursday and a business day; in 2027 April's last weekday is Fri 30th.
    const german = compileDefinition(
      { cron: t.cron, time_zone: 'Europe/Berlin', calendar: { country: 'DE' }, day_rule: t.dayRule },
      at('2026-12-01T00:00:00Z'),
    );
    assert.equal(german.nextAfter(at('2026-12-01T00:00:00Z'))?.toISOString(), '2026-12-31T17:00:00.000Z');
  });

  test('presets map to cron: weekdays, weekly, monthly last day, quarterly, yearly, hourly', () => {
    assert.equal(presetToTiming({ kind: 'weekdays', time: '09:00' }).cron, '0 9 * * 1-5');
    assert.equal(presetToTiming({ kind: 'weekly', weekday: 'monday', time: '07:30' }).cron, '30 7 * * 1');
    assert.equal(presetToTiming({ kind: 'monthly', day: 'last', time: '23:00' }).cron, '0 23 L * *');
    assert.equal(presetToTiming({ kind: 'quarterly', day: 1, time: '06:00' }).cron, '0 6 1 1,4,7,10 *');
    assert.equal(presetToTiming({ kind: 'yearly', month: 12, day: 31, time: '12:00' }).cron, '0 12 31 12 *');
    assert.equal(presetToTiming({ kind: 'hourly', minute: 15 }).cron, '15 * * * *');
    assert.throws(() => presetToTiming({ kind: 'daily', time: '25:00' }), /HH:MM/);
    const lastDay = compileDefinition(
      { cron: '0 23 L * *', time_zone: 'UTC', calendar: null, day_rule: null },
      at('2026-02-01T00:00:00Z'),
    );
    assert.equal(lastDay.nextAfter(at('2026-02-01T00:00:00Z'))?.toISOString(), '2026-02-28T23:00:00.000Z');
  });

  test('descriptions read as a person would say them, with the zone', () => {
    const d = compileDefinition(
      { cron: '0 9 * * 1-5', time_zone: 'Europe/Berlin', calendar: null, day_rule: null },
      at('2026-01-01T00:00:00Z'),
    );
    assert.equal(d.describe(), 'At 09:00, Monday through Friday, Europe/Berlin');
  });
});
