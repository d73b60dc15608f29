import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';

/** The scheme and cost parameters of a stored hash ("scrypt$N$r$p"). */
const parametersOf = (stored: string) => stored.split('$').slice(0, 4).join('$');

test('a password verifies against its own hash only', async () => {
  const stored = await hashPassword('correct horse battery');
  assert.equal(await verifyPassword('correct horse battery', stored), true);
  assert.equal(await verifyPassword('correct horse batterY', stored), false);
  assert.notEqual(await hashPassword('correct horse battery'), stored, 'a fresh salt each time');
});

test('an unknown user (no stored hash) is refused after one check with the current cost parameters', async () => {
  // The stand-in hash costs what a real check costs only while its parameters are the current ones.
  assert.equal(parametersOf(DUMMY_HASH), parametersOf(await hashPassword('anything')));
  assert.equal(await verifyPassword('anything', null), false);
  assert.equal(await verifyPassword('', null), false);
});
