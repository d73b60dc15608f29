import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Invalid, NotFound } from '../lib/errors.ts';
import { localParts } from '../lib/zoned-time.ts';
import { type Calendar, compileCalendar, listCountries, listRegions } from './calendar.ts';

// Business days from date-holidays, checked against dates anyone can look up.
// Each expectation was read from the library's data and the public record
// (e.g. 2026-12-24 is a "bank" holiday in Germany, not a public one).

function isBusinessDay(calendar: Calendar, date: string): boolean {
  const [year, month, day] = date.split('-').map(Number);
  return calendar.isBusinessDay(year!, month!, day!);
}

describe('business calendars', () => {
  test('Germany 2026: Christmas Day and Boxing Day are off, Christmas Eve (a bank holiday) is a business day', () => {
    const de = compileCalendar({ country: 'DE' });
    assert.equal(isBusinessDay(de, '2026-12-24'), true);
    assert.equal(isBusinessDay(de, '2026-12-25'), false);
    assert.equal(isBusinessDay(de, '2026-12-26'), false);
    assert.equal(de.findHoliday(2026, 12, 25), '1. Weihnachtstag');
    // Saturday, but a holiday too: the name explains a skipped run either way.
    assert.equal(de.findHoliday(2026, 12, 26), '2. Weihnachtstag');
    assert.equal(de.findHoliday(2026, 12, 24), undefined);
    assert.equal(isBusinessDay(de, '2026-12-28'), true);
  });

  test('Saturday and Sunday are never business days', () => {
    const de = compileCalendar({ country: 'DE' });
    assert.deepEqual(
      ['2026-06-05', '2026-06-06', '2026-06-07', '2026-06-08'].map((d) => isBusinessDay(de, d)),
      [true, false, false, true],
    );
  });

  test('regions: Epiphany (2026-01-06) is a holiday in Bavaria, not in Berlin or Germany-wide', () => {
    assert.equal(isBusinessDay(compileCalendar({ country: 'DE', region: 'BY' }), '2026-01-06'), false);
    assert.equal(isBusinessDay(compileCalendar({ country: 'DE', region: 'BE' }), '2026-01-06'), true);
    assert.equal(isBusinessDay(compileCalendar({ country: 'DE' }), '2026-01-06'), true);
  });

  test('codes are case-insensitive and canonicalised', () => {
    const calendar = compileCalendar({ country: ' de', region: 'by ' });
    assert.deepEqual(calendar.spec, { country: 'DE', region: 'BY' });
    assert.equal(isBusinessDay(calendar, '2026-01-06'), false);
  });

  test('observed days count: US 2026-07-03 (Friday, for Saturday the 4th) is not a business day', () => {
    const us = compileCalendar({ country: 'US' });
    assert.equal(isBusinessDay(us, '2026-07-02'), true);
    assert.equal(isBusinessDay(us, '2026-07-03'), false);
    assert.equal(us.findHoliday(2026, 7, 3), 'Independence Day (substitute day)');
    const gb = compileCalendar({ country: 'GB' });
    assert.equal(isBusinessDay(gb, '2027-12-27'), false, 'Christmas Day (substitute day)');
    assert.equal(isBusinessDay(gb, '2027-12-28'), false, 'Boxing Day (substitute day)');
  });

  test('optional, observance and school days are business days', () => {
    const us = compileCalendar({ country: 'US' });
    assert.equal(isBusinessDay(us, '2026-12-24'), true, 'Christmas Eve is "optional"');
    assert.equal(isBusinessDay(us, '2026-11-27'), true, 'Day after Thanksgiving is "observance"');
    const de = compileCalendar({ country: 'DE' });
    assert.equal(isBusinessDay(de, '2026-11-18'), true, 'Buß- und Bettag is "school" outside Saxony');
    assert.equal(isBusinessDay(compileCalendar({ country: 'DE', region: 'SN' }), '2026-11-18'), false);
  });

  test('multi-day and part-day holidays count on the dates they mostly cover', () => {
    // Ramazan Bayramı: from sunset on the 19th (a working morning) through the 22nd.
    const tr = compileCalendar({ country: 'TR' });
    assert.deepEqual(
      ['2026-03-19', '2026-03-20', '2026-03-23'].map((d) => isBusinessDay(tr, d)),
      [true, false, true],
    );
    // Youth Day in China is an afternoon off for some: the day stays a business day.
    assert.equal(isBusinessDay(compileCalendar({ country: 'CN' }), '2026-05-04'), true);
  });

  test('the last business day of the month skips weekends and holidays', () => {
    assert.equal(compileCalendar({ country: 'DE' }).lastBusinessDayOfMonth(2026, 5), 29);
    // 2027-05-31 is Memorial Day (Monday), so the US month ends on Friday the 28th.
    assert.equal(compileCalendar({ country: 'US' }).lastBusinessDayOfMonth(2027, 5), 28);
    assert.equal(compileCalendar({ country: 'DE' }).lastBusinessDayOfMonth(2026, 12), 31);
  });

  test('an impossible date is a programming error, not a holiday', () => {
    const de = compileCalendar({ country: 'DE' });
    assert.throws(() => de.isBusinessDay(2026, 2, 29), RangeError);
    assert.throws(() => de.isBusinessDay(2026, 13, 1), RangeError);
  });
});

describe('calendar specs', () => {
  test('an unknown country is Invalid naming calendar.country and where to find codes', () => {
    assert.throws(
      () => compileCalendar({ country: 'XX' }),
      (err: unknown) => {
        assert.ok(err instanceof Invalid);
        assert.equal(err.errors?.[0]?.path, 'calendar.country');
        assert.match(err.message, /"XX" is not a supported country.*GET \/api\/v1\/calendars/);
        return true;
      },
    );
  });

  test('an unknown region is Invalid naming calendar.region', () => {
    for (const spec of [
      { country: 'DE', region: 'ZZ' },
      { country: 'IS', region: 'AB' },
    ]) {
      assert.throws(
        () => compileCalendar(spec),
        (err: unknown) => err instanceof Invalid && err.errors?.[0]?.path === 'calendar.region',
        JSON.stringify(spec),
      );
    }
  });

  test('countries and regions are listed by code with their names', () => {
    const countries = listCountries();
    assert.ok(countries.length > 100);
    assert.deepEqual(
      countries.find((c) => c.code === 'DE'),
      { code: 'DE', name: 'Germany' },
    );
    assert.deepEqual(
      countries.map((c) => c.code),
      countries.map((c) => c.code).sort(),
    );
    assert.ok(listRegions('DE').some((r) => r.code === 'BY'));
    assert.ok(listRegions('us').some((r) => r.code === 'CA'));
    assert.deepEqual(listRegions('IS'), []);
    assert.throws(() => listRegions('XX'), NotFound);
  });
});

describe('calendar dates are local dates', () => {
  test('New Year: the same instant is a holiday in Auckland and a business day in Los Angeles', () => {
    // 2025-12-31T20:00Z is 09:00 on 1 January in Auckland, noon on 31 December in Los Angeles.
    const instant = new Date('2025-12-31T20:00:00Z');
    const auckland = localParts(instant, 'Pacific/Auckland');
    const losAngeles = localParts(instant, 'America/Los_Angeles');
    const nz = compileCalendar({ country: 'NZ' });
    const us = compileCalendar({ country: 'US' });
    assert.equal(nz.isBusinessDay(auckland.year, auckland.month, auckland.day), false);
    assert.equal(us.isBusinessDay(losAngeles.year, losAngeles.month, losAngeles.day), true);
  });

  test("the process time zone never shifts a holiday: date-holidays' zone maths is not used", async () => {
    const calendarModule = fileURLToPath(new URL('./calendar.ts', import.meta.url));
    const probe = `
      import { compileCalendar } from ${JSON.stringify(calendarModule)};
      const nz = compileCalendar({ country: 'NZ' });
      const us = compileCalendar({ country: 'US' });
      console.log(JSON.stringify([
        nz.isBusinessDay(2025, 12, 31), nz.isBusinessDay(2026, 1, 1), nz.isBusinessDay(2026, 1, 2),
        us.isBusinessDay(2025, 12, 31), us.isBusinessDay(2026, 1, 1), us.isBusinessDay(2026, 1, 2),
      ]));`;
    // NZ has 1 and 2 January off; the US only the 1st.
    const expected = [true, false, false, true, false, true];
    for (const timeZone of ['Pacific/Auckland', 'America/Los_Angeles', 'UTC']) {
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], {
        env: { ...process.env, TZ: timeZone },
      });
      assert.deepEqual(JSON.parse(stdout), expected, `with TZ=${timeZone}`);
    }
  });
});
