import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { type SmtpPeer, startSmtp } from '../../test/helpers/peers/smtp.ts';
import { waitFor } from '../../test/helpers/time.ts';
import { loadConfig, type SmtpConfig } from '../config.ts';
import { AppError, Invalid } from '../lib/errors.ts';
import { createMailer, isValidEmailAddress, type Mailer, parseAddressList } from './email.ts';

// The mailer against a real SMTP server on localhost: what arrives is parsed
// back, and each kind of failure must come out as the error type the job layer
// retries (Retryable) or gives up on (Permanent).

function smtpConfigFor(env: Record<string, string>): SmtpConfig {
  const smtp = loadConfig(env, {}, '/srv/ferry').smtp;
  assert.ok(smtp, 'the peer env configures SMTP');
  return smtp;
}

function simpleMessage(subject = 'Daily sales') {
  return { to: ['ana@example.test'], subject, text: 'Attached.' };
}

/** A port nothing listens on: bound once by the OS, then released. */
async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

async function rejectionOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

describe('e-mail delivery over SMTP', () => {
  let peer: SmtpPeer;
  let mailer: Mailer;

  before(async () => {
    peer = await startSmtp();
    mailer = createMailer(smtpConfigFor(peer.env));
  });
  after(async () => {
    mailer.close();
    await peer.close();
  });

  test('text, html and a streamed attachment arrive intact, with envelope and headers', async () => {
    const countBefore = peer.messages.length;
    const bytes = randomBytes(700_000);
    const chunks = Array.from({ length: 7 }, (_, i) => bytes.subarray(i * 100_000, (i + 1) * 100_000));
    const result = await mailer.send({
      to: ['Ana@Example.TEST', ' bo@example.test '],
      cc: ['chef@example.test'],
      subject: 'Ventes du jour – 🚀 Zoë',
      text: 'Bonjour,\nle fichier est joint.',
      html: '<p>Bonjour, <b>le fichier</b> est joint.</p>',
      attachments: [{ filename: 'ventes 2026.csv', content: Readable.from(chunks), contentType: 'text/csv' }],
      headers: { 'X-Ferry-Run': 'run_123' },
    });
    assert.deepEqual(result.accepted.sort(), ['Ana@example.test', 'bo@example.test', 'chef@example.test']);
    assert.deepEqual(result.rejected, []);

    const [mail] = (await peer.waitFor(countBefore + 1)).slice(countBefore);
    assert.ok(mail);
    assert.equal(mail.from, 'ferry@example.test');
    assert.deepEqual(mail.to.sort(), ['Ana@example.test', 'bo@example.test', 'chef@example.test']);
    assert.equal(mail.subject, 'Ventes du jour – 🚀 Zoë');
    assert.equal(mail.text?.trim(), 'Bonjour,\nle fichier est joint.');
    assert.equal(mail.html, '<p>Bonjour, <b>le fichier</b> est joint.</p>');
    assert.equal(mail.headers.get('x-ferry-run'), 'run_123');
    assert.equal(mail.parsed.messageId, result.messageId);
    assert.equal(mail.attachments.length, 1);
    const [attachment] = mail.attachments;
    assert.equal(attachment?.filename, 'ventes 2026.csv');
    assert.equal(attachment?.contentType, 'text/csv');
    assert.ok(attachment?.content.equals(bytes), 'the attachment bytes are the ones sent');
  });

  test('a 4xx reply (451 try again later) is Retryable and quotes the server', async () => {
    peer.failNext(451, 'Requested action aborted: local error in processing');
    const err = await rejectionOf(mailer.send(simpleMessage()));
    assert.equal(err.code, 'Retryable');
    assert.match(err.message, /SMTP 451 Requested action aborted/);
  });

  test('a 5xx reply (552 too large, 550 mailbox unavailable) is Permanent', async () => {
    peer.failNext(552, 'Message size exceeds fixed maximum message size');
    const tooLarge = await rejectionOf(mailer.send(simpleMessage()));
    assert.equal(tooLarge.code, 'Permanent');
    assert.match(tooLarge.message, /SMTP 552 Message size exceeds/);

    peer.failNext(550, 'Mailbox unavailable');
    const unavailable = await rejectionOf(mailer.send(simpleMessage()));
    assert.equal(unavailable.code, 'Permanent');
    assert.match(unavailable.message, /SMTP 550 Mailbox unavailable/);
  });

  test('after a rejected message the next one still goes through the pool', async () => {
    const countBefore = peer.messages.length;
    peer.failNext(451, 'Try again');
    await rejectionOf(mailer.send(simpleMessage('first')));
    await mailer.send(simpleMessage('second'));
    const received = (await peer.waitFor(countBefore + 1)).slice(countBefore);
    assert.deepEqual(
      received.map((m) => m.subject),
      ['second'],
    );
  });

  test('CR/LF in the subject, an address or a header is Invalid and nothing is sent', async () => {
    const countBefore = peer.messages.length;
    const injected = [
      { ...simpleMessage('Report\r\nBcc: victim@example.test'), path: 'subject' },
      { ...simpleMessage(), to: ['ana@example.test\r\nBcc: victim@example.test'], path: 'to.0' },
      { ...simpleMessage(), cc: ['ok@example.test', 'x@example.test\nBcc: v@example.test'], path: 'cc.1' },
      { ...simpleMessage(), headers: { 'X-Note': 'a\r\nBcc: v@example.test' }, path: 'headers.X-Note' },
    ];
    for (const { path, ...message } of injected) {
      const err = await rejectionOf(mailer.send(message));
      assert.ok(err instanceof Invalid, `${path}: ${err.message}`);
      assert.equal(err.errors?.[0]?.path, path);
    }
    assert.equal(peer.messages.length, countBefore);
  });

  test('an invalid recipient is Invalid, naming the entry', async () => {
    const err = await rejectionOf(mailer.send({ ...simpleMessage(), to: ['ana@example.test', 'bob@'] }));
    assert.equal(err.code, 'Invalid');
    assert.deepEqual(err.errors, [{ path: 'to.1', message: '"bob@" is not a valid e-mail address' }]);
  });

  test('an aborted send rejects with the abort reason and delivers nothing', async () => {
    const countBefore = peer.messages.length;
    const controller = new AbortController();
    // An attachment whose source stalls, as a slow export would.
    const stalled = new Readable({ read() {} });
    stalled.push(Buffer.alloc(10_000, 1));
    const sending = mailer.send(
      {
        ...simpleMessage(),
        attachments: [{ filename: 'a.bin', content: stalled, contentType: 'application/octet-stream' }],
      },
      controller.signal,
    );
    // Cancelled mid-message: the server has begun receiving it.
    await waitFor('the message to be under way', () => peer.receiving > 0);
    controller.abort(new Error('run cancelled'));
    await assert.rejects(sending, /run cancelled/);
    stalled.destroy();
    await waitFor('the server to be done with the cut-off message', () => peer.receiving === 0);
    assert.equal(peer.messages.length, countBefore);
  });

  test('verify() succeeds against a reachable server', async () => {
    await mailer.verify();
  });

  test('a server that must speak STARTTLS but does not offer it gets nothing in plain text', async () => {
    const strict = createMailer({ ...smtpConfigFor(peer.env), requireTls: true } as SmtpConfig, undefined, {
      settings: 'tenant',
    });
    const countBefore = peer.messages.length;
    try {
      const err = await rejectionOf(strict.send(simpleMessage()));
      assert.match(err.message, /STARTTLS|TLS/);
      assert.equal(peer.messages.length, countBefore, 'nothing was sent unencrypted');
    } finally {
      strict.close();
    }
  });
});

describe('e-mail delivery failures outside the message', () => {
  test('a refused connection is Retryable and says so', async () => {
    const port = await findClosedPort();
    const mailer = createMailer(
      smtpConfigFor({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port), SMTP_FROM: 'f@example.test' }),
    );
    try {
      const err = await rejectionOf(mailer.send(simpleMessage()));
      assert.equal(err.code, 'Retryable');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}.*connection refused`));
    } finally {
      mailer.close();
    }
  });

  test('no SMTP configuration: sending is Permanent and says what to set', async () => {
    const mailer = createMailer(undefined);
    const err = await rejectionOf(mailer.send(simpleMessage()));
    assert.equal(err.code, 'Permanent');
    assert.equal(err.message, 'E-mail is not configured: set SMTP_HOST and SMTP_FROM');
  });

  test('a refused login (535) is Permanent and never shows the password', async () => {
    const peer = await startSmtp({ password: 'right-secret' });
    const password = 'wr0ng-Secret-Value';
    const mailer = createMailer(smtpConfigFor({ ...peer.env, SMTP_USER: 'ferry', SMTP_PASSWORD: password }));
    try {
      for (const attempt of [() => mailer.send(simpleMessage()), () => mailer.verify()]) {
        const err = await rejectionOf(attempt());
        assert.equal(err.code, 'Permanent');
        assert.match(err.message, /535/);
        assert.match(err.message, /SMTP_USER and SMTP_PASSWORD/);
        assert.ok(!inspect(err, { depth: 10 }).includes(password), 'the password is nowhere in the error');
      }
      assert.equal(peer.messages.length, 0);
    } finally {
      mailer.close();
      await peer.close();
    }
  });

  test('the right credentials are accepted', async () => {
    const peer = await startSmtp({ password: 'right-secret' });
    const mailer = createMailer(
      smtpConfigFor({ ...peer.env, SMTP_USER: 'ferry', SMTP_PASSWORD: 'right-secret' }),
    );
    try {
      await mailer.send(simpleMessage());
      assert.equal((await peer.waitFor(1)).length, 1);
    } finally {
      mailer.close();
      await peer.close();
    }
  });
});

describe('e-mail addresses', () => {
  test('practical addresses are valid; typos and header tricks are not', () => {
    for (const ok of [
      'ana@example.com',
      'a.b+tag@sub.example.co.uk',
      "o'brien@example.ie",
      'zoë@exämple.de',
    ]) {
      assert.equal(isValidEmailAddress(ok), true, ok);
    }
    for (const bad of [
      '',
      'ana',
      'ana@',
      '@example.com',
      'ana@localhost',
      'ana@@example.com',
      'ana@example..com',
      '.ana@example.com',
      'ana.@example.com',
      'ana @example.com',
      'Ana <ana@example.com>',
      'ana@example.com\r\nBcc: x@example.com',
      'ana@-example.com',
      'ana@10.0.0.1',
      `${'a'.repeat(65)}@example.com`,
    ]) {
      assert.equal(isValidEmailAddress(bad), false, JSON.stringify(bad));
    }
  });

  test('a list is trimmed, its domains lowercased and duplicates dropped in order', () => {
    assert.deepEqual(
      parseAddressList([' Ana@Example.COM', 'bo@example.com', 'Ana@example.com ', 'ana@example.com']),
      ['Ana@example.com', 'bo@example.com', 'ana@example.com'],
    );
  });

  test('a bad entry is Invalid naming its field path and the entry', () => {
    assert.throws(
      () => parseAddressList(['ana@example.com', 'not an address'], 'notify.emails'),
      (err: unknown) => {
        assert.ok(err instanceof Invalid);
        assert.deepEqual(err.errors, [
          { path: 'notify.emails.1', message: '"not an address" is not a valid e-mail address' },
        ]);
        return true;
      },
    );
  });
});
