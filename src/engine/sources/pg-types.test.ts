import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInstant, parseInstantSlowly } from './pg-types.ts';

// The fast reading of PostgreSQL's timestamptz text must give exactly what the
// general reading gives, for every shape of text the server writes.

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

const same = (a: Date | string, b: Date | string, text: string) => {
  if (a instanceof Date && b instanceof Date) assert.equal(a.getTime(), b.getTime(), text);
  else assert.equal(a, b, text);
};

describe('timestamptz text', () => {
  test('100,000 random instants in years 1–9999 with 0–6 fraction digits: fast and general readings agree', () => {
    const random = seeded(7);
    const low = -62_135_596_800_000; // 0001-01-01
    const high = 253_402_300_799_999; // 9999-12-31T23:59:59.999
    for (let i = 0; i < 100_000; i++) {
      const ms = Math.floor(low + random() * (high - low));
      const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
      const digits = Math.floor(random() * 7);
      const micro = String(Math.floor(random() * 1000)).padStart(3, '0');
      const fraction = digits === 0 ? '' : `.${(iso.slice(20, 23) + micro).slice(0, digits)}`;
      const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction}+00`;
      same(parseInstant(text), parseInstantSlowly(text), text);
    }
  });

  test('the shapes the fast reading leaves to the general one', () => {
    for (const text of [
      'infinity',
      '-infinity',
      '0044-03-15 12:00:00+00 BC',
      '0099-12-31 23:59:59+00',
      '10000-01-01 00:00:00+00',
      '2024-06-01 12:00:00+05:30',
      '2024-06-01 12:00:00-03',
      '2024-06-01 12:00:00.+00',
      '2024-06-01T12:00:00+00',
    ])
      same(parseInstant(text), parseInstantSlowly(text), text);
    const fast = parseInstant('2024-02-29 23:59:59.999999+00');
    assert.ok(fast instanceof Date);
    assert.equal(fast.toISOString(), '2024-02-29T23:59:59.999Z');
  });
});
