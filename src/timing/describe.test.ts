import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DescriptionLanguage } from './describe.ts';
import { type Preset, presetToTiming } from './presets.ts';
import { compileDefinition, compileScheduleTiming } from './timing.ts';

const now = new Date('2026-01-01T00:00:00Z');
type Calendar = { country: string; region?: string } | null;

function describeCron(cron: string, language: DescriptionLanguage, calendar: Calendar = null, zone = 'UTC') {
  return compileDefinition({ cron, time_zone: zone, calendar, day_rule: null }, now).describe(language);
}

function describePreset(preset: Preset, language: DescriptionLanguage, calendar: Calendar = null) {
  const t = presetToTiming(preset);
  return compileDefinition(
    { cron: t.cron, time_zone: 'Europe/Berlin', calendar, day_rule: t.dayRule },
    now,
  ).describe(language);
}

describe('schedule descriptions in German', () => {
  test('each preset kind reads as German, ending with the zone', () => {
    const cases: Array<[Preset, string]> = [
      [{ kind: 'hourly', minute: 0 }, 'Stündlich zur vollen Stunde, Europe/Berlin'],
      [{ kind: 'hourly', minute: 1 }, 'Stündlich, 1 Minute nach der vollen Stunde, Europe/Berlin'],
      [{ kind: 'hourly', minute: 15 }, 'Stündlich, 15 Minuten nach der vollen Stunde, Europe/Berlin'],
      [{ kind: 'daily', time: '02:30' }, 'Um 02:30, Europe/Berlin'],
      [{ kind: 'weekdays', time: '09:00' }, 'Um 09:00, Montag bis Freitag, Europe/Berlin'],
      [{ kind: 'weekly', weekday: 'monday', time: '07:30' }, 'Jeden Montag um 07:30, Europe/Berlin'],
      [{ kind: 'weekly', weekday: 'sunday', time: '20:00' }, 'Jeden Sonntag um 20:00, Europe/Berlin'],
      [{ kind: 'monthly', day: 15, time: '09:00' }, 'Am 15. des Monats um 09:00, Europe/Berlin'],
      [{ kind: 'monthly', day: 'last', time: '23:00' }, 'Am letzten Tag des Monats um 23:00, Europe/Berlin'],
      [
        { kind: 'monthly', day: 'last_business_day', time: '17:30' },
        'Am letzten Geschäftstag des Monats um 17:30, Europe/Berlin',
      ],
      [
        { kind: 'quarterly', day: 1, time: '06:00' },
        'Vierteljährlich am 1. Januar, April, Juli und Oktober um 06:00, Europe/Berlin',
      ],
      [
        { kind: 'quarterly', day: 'last', time: '06:00' },
        'Vierteljährlich am letzten Tag im Januar, April, Juli und Oktober um 06:00, Europe/Berlin',
      ],
      [
        { kind: 'yearly', month: 12, day: 31, time: '12:00' },
        'Jährlich am 31. Dezember um 12:00, Europe/Berlin',
      ],
      [
        { kind: 'yearly', month: 2, day: 'last', time: '08:15' },
        'Jährlich am letzten Tag im Februar um 08:15, Europe/Berlin',
      ],
      [{ kind: 'yearly', month: 3, time: '00:00' }, 'Jährlich am 1. März um 00:00, Europe/Berlin'],
    ];
    for (const [preset, expected] of cases) assert.equal(describePreset(preset, 'de'), expected);
  });

  test('a holiday calendar is named in German, for business days and for the last business day', () => {
    assert.equal(
      describePreset({ kind: 'daily', time: '08:00' }, 'de', { country: 'DE', region: 'BY' }),
      'Um 08:00, nur an Geschäftstagen (ohne Wochenenden und gesetzliche Feiertage in DE-BY), Europe/Berlin',
    );
    assert.equal(
      describePreset({ kind: 'monthly', day: 'last_business_day', time: '17:30' }, 'de', { country: 'AT' }),
      'Am letzten Geschäftstag des Monats um 17:30 (ohne Wochenenden und gesetzliche Feiertage in AT), Europe/Berlin',
    );
    assert.equal(
      describePreset({ kind: 'weekly', weekday: 'friday', time: '16:00' }, 'de', { country: 'DE' }),
      'Jeden Freitag um 16:00, nur an Geschäftstagen (ohne Wochenenden und gesetzliche Feiertage in DE), Europe/Berlin',
    );
  });

  test('other cron expressions: cronstrue German, lists joined without a comma before "und"', () => {
    assert.equal(
      describeCron('*/15 9-17 * * 1-5', 'de', null, 'Europe/Vienna'),
      'Alle 15 Minuten, zwischen 09:00 und 17:59, Montag bis Freitag, Europe/Vienna',
    );
    assert.equal(describeCron('0 8 1,15 * *', 'de'), 'Um 08:00, an Tag 1 und 15 des Monats, UTC');
    assert.equal(describeCron('0 9 * * MON', 'de'), 'Um 09:00, nur jeden Montag, UTC');
    assert.equal(describeCron('0 6 1 1,7 *', 'de'), 'Am 1. Januar und Juli um 06:00, UTC');
    assert.equal(
      describeCron('0 7 * 1,6,9 1', 'de'),
      'Um 07:00, nur jeden Montag, nur im Januar, Juni und September, UTC',
    );
  });

  test('English stays as it was, and is the default', () => {
    assert.equal(
      describeCron('0 9 * * 1-5', 'en', null, 'Europe/Berlin'),
      'At 09:00, Monday through Friday, Europe/Berlin',
    );
    assert.equal(
      describeCron('0 9 * * 1-5', 'en'),
      compileDefinition(
        { cron: '0 9 * * 1-5', time_zone: 'UTC', calendar: null, day_rule: null },
        now,
      ).describe(),
    );
    assert.equal(
      describePreset({ kind: 'quarterly', day: 1, time: '06:00' }, 'en'),
      'At 06:00, on day 1 of the month, only in January, April, July, and October, Europe/Berlin',
    );
    assert.equal(
      describePreset({ kind: 'daily', time: '08:00' }, 'en', { country: 'DE', region: 'BY' }),
      'At 08:00, business days only (DE-BY public holidays and weekends), Europe/Berlin',
    );
    assert.equal(
      describePreset({ kind: 'monthly', day: 'last_business_day', time: '17:30' }, 'en', { country: 'AT' }),
      'At 17:30, on the last business day of the month (AT public holidays and weekends), Europe/Berlin',
    );
  });

  test('the scheduler cache answers in either language', () => {
    const compiled = compileScheduleTiming({
      cron: '30 17 * * *',
      time_zone: 'Europe/Berlin',
      calendar: null,
      day_rule: 'last_business_day',
    });
    assert.equal(compiled.describe(), 'At 17:30, on the last business day of the month, Europe/Berlin');
    assert.equal(compiled.describe('de'), 'Am letzten Geschäftstag des Monats um 17:30, Europe/Berlin');
  });
});
