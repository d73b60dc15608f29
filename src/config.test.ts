import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('configuration', () => {
  test('defaults: port 8080, ./.ferry, info logs, public URL from the port', () => {
    const c = loadConfig({}, {}, '/srv/app');
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, '/srv/app/.ferry');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.publicUrl, 'http://localhost:8080');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.secret, undefined);
    assert.ok(Object.isFrozen(c));
  });

  test('every invalid value is reported at once, each naming its variable', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        FERRY_SECRET: 'short',
        LOG_LEVEL: 'loud',
        PUBLIC_URL: 'not a url',
        FERRY_TRUST_PROXY: 'maybe',
        SMTP_PORT: '25',
      });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join('\n');
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'FERRY_SECRET',
      'LOG_LEVEL',
      'PUBLIC_URL',
      'FERRY_TRUST_PROXY',
      'SMTP_PORT',
    ]) {
      assert.match(text, new RegExp(`\\b${name}\\b`), `${name} not named`);
    }
  });

  test('DATABASE_URL requires FERRY_SECRET, since every process must share it', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'postgres://u@h/db' }),
      /FERRY_SECRET is required with DATABASE_URL/,
    );
    const c = loadConfig({ DATABASE_URL: 'postgres://u@h/db', FERRY_SECRET: 'x'.repeat(32) });
    assert.equal(c.databaseUrl, 'postgres://u@h/db');
  });

  test('unix sockets for connections are off unless FERRY_ALLOW_SOCKETS says so', () => {
    assert.equal(loadConfig({}).allowSockets, false);
    assert.equal(loadConfig({ FERRY_ALLOW_SOCKETS: 'true' }).allowSockets, true);
    assert.throws(
      () => loadConfig({ FERRY_ALLOW_SOCKETS: 'sometimes' }),
      /FERRY_ALLOW_SOCKETS must be true or false/,
    );
  });

  test('flags override the environment; out-of-range numbers are refused', () => {
    assert.equal(loadConfig({ PORT: '9000' }, { port: 9100 }).port, 9100);
    assert.throws(() => loadConfig({ PORT: '70000' }), /PORT must be between 1 and 65535/);
    assert.throws(() => loadConfig({ FERRY_SESSION_TTL_HOURS: '0' }), /FERRY_SESSION_TTL_HOURS/);
  });

  test('SMTP settings are checked together', () => {
    assert.throws(() => loadConfig({ SMTP_HOST: 'mail', SMTP_FROM: 'nope' }), /SMTP_FROM/);
    assert.throws(
      () => loadConfig({ SMTP_HOST: 'mail', SMTP_FROM: 'a@b.c', SMTP_USER: 'u' }),
      /SMTP_USER and SMTP_PASSWORD/,
    );
    const c = loadConfig({ SMTP_HOST: 'mail', SMTP_FROM: 'Ferry <ferry@example.com>', SMTP_SECURE: 'true' });
    assert.deepEqual(c.smtp, {
      host: 'mail',
      port: 465,
      secure: true,
      user: undefined,
      password: undefined,
      from: 'Ferry <ferry@example.com>',
    });
  });
});
