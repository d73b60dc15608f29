import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instantText } from './values.ts';

test('instantText is Date.toISOString(), for 200,000 random instants and the edges', () => {
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const low = -62_135_596_800_000 - 10 * 86_400_000; // a little before year 1
  const high = 253_402_300_799_999 + 10 * 86_400_000; // a little after 9999
  for (let i = 0; i < 200_000; i++) {
    const d = new Date(Math.floor(low + random() * (high - low)));
    assert.equal(instantText(d), d.toISOString());
  }
  for (const ms of [0, -1, 951_782_400_000, 4_107_542_400_000, -62_135_596_800_000, 253_402_300_799_999]) {
    const d = new Date(ms);
    assert.equal(instantText(d), d.toISOString(), String(ms));
  }
});
