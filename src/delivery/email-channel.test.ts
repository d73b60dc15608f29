import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { deliveryContext, lateEveningInBerlin } from '../../test/helpers/delivery-context.ts';
import { type SmtpPeer, startSmtp } from '../../test/helpers/peers/smtp.ts';
import { unzip } from '../../test/helpers/unzip.ts';
import type { SmtpConfig } from '../config.ts';
import { Invalid } from '../lib/errors.ts';
import { createMailer, type Mailer } from './email.ts';
import { checkEmailSettings, type EmailSettings, sendReportEmail, testReportEmail } from './email-channel.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile } from './types.ts';

// Report e-mails through a real SMTP server on localhost; what arrives is parsed
// back with mailparser (independent of nodemailer, which builds the message) and
// attachments are unzipped with yauzl (independent of yazl, which zips them).

const LINK = 'https://ferry.example.test/api/v1/runs/run_1/download?sig=abc&expires=1';

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(lateEveningInBerlin(LINK), overrides);
}

interface TrackedFile extends DeliveryFile {
  /** How many times the file was opened, and whether every opened stream was closed. */
  opened: number;
  allClosed(): boolean;
  /** Bytes the reader pulled from storage, over all opens. */
  bytesRead(): number;
}

/** A run's file served in chunks, as storage streams it. */
function fileOf(bytes: Buffer, fileName = 'sales.csv', contentType = 'text/csv'): TrackedFile {
  const streams: Readable[] = [];
  let read = 0;
  // Chunks are made as they are pulled, so `read` counts what the reader asked for.
  function* chunks() {
    for (let at = 0; at < bytes.length; at += 65_536) {
      const chunk = bytes.subarray(at, at + 65_536);
      read += chunk.length;
      yield chunk;
    }
  }
  return {
    fileName,
    contentType,
    size: bytes.length,
    checksum: createHash('sha256').update(bytes).digest('hex'),
    opened: 0,
    async open() {
      this.opened += 1;
      const stream = Readable.from(chunks());
      streams.push(stream);
      return stream;
    },
    allClosed: () => streams.every((s) => s.destroyed),
    bytesRead: () => read,
  };
}

/** Text that zips to a small fraction of its size, like a real CSV export. */
function compressibleCsv(bytes: number): Buffer {
  const line = 'region,product,units,revenue\nnorth,widget,12,340.50\n';
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes));
}

function smtpConfigOf(host: string, port: number): SmtpConfig {
  return {
    host,
    port,
    secure: false,
    user: undefined,
    password: undefined,
    from: 'Ferry <ferry@example.test>',
  };
}

async function deliveryErrorOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the delivery to fail');
}

/** The channel's temporary directories (zipped attachments) that exist now. */
async function zipTempDirs(): Promise<Set<string>> {
  return new Set((await readdir(tmpdir())).filter((name) => name.startsWith('ferry-mail-')));
}

/** Those made since `before` and still there: each delivery must remove its own. */
async function leftoverTempDirs(before: Set<string>): Promise<string[]> {
  return [...(await zipTempDirs())].filter((name) => !before.has(name));
}

describe('report e-mail to a real SMTP server', () => {
  let peer: SmtpPeer;
  let mailer: Mailer;

  before(async () => {
    peer = await startSmtp();
    mailer = createMailer(smtpConfigOf(peer.host, peer.port));
  });
  after(async () => {
    mailer.close();
    await peer.close();
  });

  async function nextMail(send: () => Promise<unknown>) {
    const countBefore = peer.messages.length;
    await send();
    const [mail] = (await peer.waitFor(countBefore + 1)).slice(countBefore);
    assert.ok(mail);
    return mail;
  }

  test('the file is attached byte for byte, with the summary, the headers and every recipient', async () => {
    const bytes = randomBytes(700_000);
    const file = fileOf(bytes);
    let receipt: Awaited<ReturnType<typeof sendReportEmail>> | undefined;
    const settings: EmailSettings = {
      to: ['Ana@Example.TEST'],
      cc: ['bo@example.test'],
      bcc: ['audit@example.test'],
    };
    const mail = await nextMail(async () => {
      receipt = await sendReportEmail(settings, file, context(), mailer);
    });
    assert.deepEqual(mail.to.sort(), ['Ana@example.test', 'audit@example.test', 'bo@example.test']);
    assert.equal(mail.subject, 'Sales — 2026-03-02');
    assert.equal(mail.headers.get('auto-submitted'), 'auto-generated');
    assert.equal(mail.headers.get('x-ferry-run'), 'run_1');
    assert.equal(mail.headers.get('x-ferry-delivery'), 'del_1');
    assert.equal(mail.headers.get('bcc'), undefined, 'no header names the blind copy');
    assert.ok(
      !mail.raw.toString('latin1').includes('audit@example.test'),
      'the blind copy is only in the envelope',
    );
    for (const expected of ['12,345', '700 kB', 'sales.csv', '2026-03-02 00:30 Europe/Berlin', 'attached'])
      assert.ok(mail.text?.includes(expected), `text has ${expected}: ${mail.text}`);
    assert.ok(typeof mail.html === 'string' && mail.html.includes('12,345'));

    assert.equal(mail.attachments.length, 1);
    const [attachment] = mail.attachments;
    assert.equal(attachment?.filename, 'sales.csv');
    assert.equal(attachment?.contentType, 'text/csv');
    assert.ok(attachment?.content.equals(bytes), 'the attachment is the file');
    assert.ok(file.allClosed());

    assert.ok(receipt);
    assert.match(receipt.summary, /^250 .*accepted for 3 recipient\(s\)$/);
    assert.deepEqual((receipt.details['accepted'] as string[]).sort(), [
      'Ana@example.test',
      'audit@example.test',
      'bo@example.test',
    ]);
    assert.deepEqual(receipt.details['rejected'], []);
    assert.equal(receipt.details['messageId'], mail.parsed.messageId);
    assert.equal(receipt.details['sent'], 'attachment');
    assert.deepEqual(receipt.details['file'], {
      fileName: 'sales.csv',
      size: bytes.length,
      checksum: file.checksum,
    });
  });

  test('zip: the attachment is a zip archive that unzips to the same bytes', async () => {
    const tempBefore = await zipTempDirs();
    const bytes = compressibleCsv(3_000_000);
    let receipt: Awaited<ReturnType<typeof sendReportEmail>> | undefined;
    const mail = await nextMail(async () => {
      receipt = await sendReportEmail(
        { to: ['ana@example.test'], zip: true },
        fileOf(bytes),
        context(),
        mailer,
      );
    });
    const [attachment] = mail.attachments;
    assert.equal(attachment?.filename, 'sales.zip');
    assert.equal(attachment?.contentType, 'application/zip');
    assert.ok(attachment);
    const entries = await unzip(attachment.content);
    assert.deepEqual(
      entries.map((e) => e.name),
      ['sales.csv'],
    );
    assert.ok(entries[0]?.bytes.equals(bytes), 'the zipped file unzips to the run file');
    assert.deepEqual(receipt?.details['attachment'], {
      fileName: 'sales.zip',
      bytes: attachment.content.length,
      zipped: true,
    });
    assert.deepEqual(await leftoverTempDirs(tempBefore), []);
  });

  test('the limit counts zipped bytes: a file over it attaches once zipped, and goes as a link unzipped', async () => {
    const bytes = compressibleCsv(2_000_000);
    const settings = { to: ['ana@example.test'], maxAttachmentBytes: 1_000_000 };
    const zipped = await nextMail(() =>
      sendReportEmail({ ...settings, zip: true }, fileOf(bytes), context(), mailer),
    );
    assert.equal(zipped.attachments[0]?.filename, 'sales.zip');

    const unzipped = await nextMail(() => sendReportEmail(settings, fileOf(bytes), context(), mailer));
    assert.equal(unzipped.attachments.length, 0);
    assert.match(unzipped.text ?? '', /too large to attach/);
    assert.ok(unzipped.text?.includes(LINK));
  });

  test('a file over the limit even zipped goes as the link, and the zipping stops early', async () => {
    const tempBefore = await zipTempDirs();
    const bytes = randomBytes(8_000_000); // random bytes do not compress
    const file = fileOf(bytes);
    let receipt: Awaited<ReturnType<typeof sendReportEmail>> | undefined;
    const mail = await nextMail(async () => {
      receipt = await sendReportEmail(
        { to: ['ana@example.test'], zip: true, maxAttachmentBytes: 200_000 },
        file,
        context(),
        mailer,
      );
    });
    assert.equal(mail.attachments.length, 0);
    assert.ok(mail.text?.includes(LINK), mail.text);
    assert.match(mail.text ?? '', /too large to attach/);
    assert.match(mail.text ?? '', /2026-03-09 00:30 Europe\/Berlin/, 'says until when the link works');
    assert.equal(receipt?.details['sent'], 'link');
    assert.equal(receipt?.details['attachment'], null);
    assert.ok(file.allClosed());
    assert.ok(file.bytesRead() < bytes.length, `read ${file.bytesRead()} of ${bytes.length} bytes`);
    assert.deepEqual(await leftoverTempDirs(tempBefore), []);
  });

  test('storage failing while the file is zipped fails the delivery (retryable), sends nothing, leaves no temp file', async () => {
    const tempBefore = await zipTempDirs();
    const countBefore = peer.messages.length;
    const broken: DeliveryFile = {
      ...fileOf(Buffer.alloc(0)),
      size: 1_000_000,
      async open() {
        return Readable.from(
          (function* () {
            yield compressibleCsv(100_000);
            throw new Error('storage read failed: connection reset');
          })(),
        );
      },
    };
    const err = await deliveryErrorOf(
      sendReportEmail({ to: ['ana@example.test'], zip: true }, broken, context(), mailer),
    );
    assert.equal(err.retryable, true);
    assert.match(err.message, /storage read failed/);
    assert.equal(peer.messages.length, countBefore);
    assert.deepEqual(await leftoverTempDirs(tempBefore), []);
  });

  test("attach: 'link' sends the link in text and HTML and never reads the file", async () => {
    const file = fileOf(randomBytes(1000));
    const mail = await nextMail(() =>
      sendReportEmail({ to: ['ana@example.test'], attach: 'link' }, file, context(), mailer),
    );
    assert.equal(mail.attachments.length, 0);
    assert.ok(mail.text?.includes(LINK));
    assert.ok(typeof mail.html === 'string' && mail.html.includes(`href="${LINK.replace('&', '&amp;')}"`));
    assert.doesNotMatch(mail.text ?? '', /too large/);
    assert.equal(file.opened, 0);
  });

  test("the author's own body without {{link}} still gets the link when the file is not attached", async () => {
    const mail = await nextMail(() =>
      sendReportEmail(
        {
          to: ['ana@example.test'],
          attach: 'link',
          subject: 'Numbers for {{tenant}}',
          text: 'Hello, {{rows}} rows today.',
          html: '<html><body><p>Hello, {{rows}} rows today.</p></body></html>',
        },
        fileOf(randomBytes(10)),
        context(),
        mailer,
      ),
    );
    assert.equal(mail.subject, 'Numbers for Acme');
    assert.match(mail.text ?? '', /^Hello, 12,345 rows today\.\n\nDownload the file here:\n/);
    assert.ok(mail.text?.includes(LINK));
    assert.match(
      String(mail.html),
      /<p>Hello, 12,345 rows today\.<\/p><p>Download the file here:.*<\/p><\/body><\/html>$/,
    );
  });

  test('values are HTML-escaped in the HTML body and a CR/LF in the subject adds no header', async () => {
    const reportName = '<img src=x onerror=alert(1)> & Co\r\nBcc: victim@example.test';
    const mail = await nextMail(() =>
      sendReportEmail(
        { to: ['ana@example.test'], subject: '{{report}}', html: '<h1>{{report}}</h1>' },
        fileOf(randomBytes(10)),
        context({ reportName }),
        mailer,
      ),
    );
    assert.equal(mail.subject, '<img src=x onerror=alert(1)> & Co Bcc: victim@example.test');
    assert.equal(mail.headers.get('bcc'), undefined);
    assert.deepEqual(mail.to, ['ana@example.test']);
    assert.ok(typeof mail.html === 'string');
    assert.ok(mail.html.startsWith('<h1>&lt;img src=x onerror=alert(1)&gt; &amp; Co'), mail.html);
    assert.ok(!mail.html.includes('<img'));
  });

  test('a failed run sends the failure notice with the error and no file', async () => {
    const mail = await nextMail(() =>
      sendReportEmail(
        { to: ['ana@example.test'] },
        null,
        context({ status: 'failed', error: 'relation "sales" does not exist', link: null }),
        mailer,
      ),
    );
    assert.equal(mail.subject, 'Failed: Sales — 2026-03-02');
    assert.match(mail.text ?? '', /failed:\nrelation "sales" does not exist/);
    assert.equal(mail.attachments.length, 0);
  });

  test('a file over the limit with no link to send instead fails permanently, sending nothing', async () => {
    const countBefore = peer.messages.length;
    const err = await deliveryErrorOf(
      sendReportEmail(
        { to: ['ana@example.test'], maxAttachmentBytes: 1000 },
        fileOf(randomBytes(5000)),
        context({ link: null }),
        mailer,
      ),
    );
    assert.equal(err.retryable, false);
    assert.equal(
      err.message,
      'The file (5 kB) is larger than the 1 kB attachment limit and the run has no download link to send instead',
    );
    const linkOnly = await deliveryErrorOf(
      sendReportEmail(
        { to: ['ana@example.test'], attach: 'link' },
        fileOf(randomBytes(10)),
        context({ link: null }),
        mailer,
      ),
    );
    assert.equal(linkOnly.retryable, false);
    assert.match(linkOnly.message, /sends links, not attachments, and the run has no download link/);
    assert.equal(peer.messages.length, countBefore);
  });

  test('a 4xx reply to the message is retryable; a 5xx is permanent; both quote the server', async () => {
    peer.failNext(451, 'Requested action aborted: local error in processing');
    const later = await deliveryErrorOf(
      sendReportEmail({ to: ['ana@example.test'] }, fileOf(randomBytes(100)), context(), mailer),
    );
    assert.equal(later.retryable, true);
    assert.match(later.message, /SMTP 451 Requested action aborted/);
    assert.equal(later.details['responseCode'], 451);

    peer.failNext(552, 'Message size exceeds fixed maximum message size');
    const never = await deliveryErrorOf(
      sendReportEmail({ to: ['ana@example.test'] }, fileOf(randomBytes(100)), context(), mailer),
    );
    assert.equal(never.retryable, false);
    assert.match(never.message, /SMTP 552 Message size exceeds/);
  });

  test('invalid settings fail permanently naming each field, and nothing is sent', async () => {
    const countBefore = peer.messages.length;
    const err = await deliveryErrorOf(
      sendReportEmail(
        { to: ['ana@example.test', 'bob@'], cc: ['not an address'], subject: '{{reprot}}' },
        fileOf(randomBytes(10)),
        context(),
        mailer,
      ),
    );
    assert.equal(err.retryable, false);
    assert.deepEqual(
      (err.details['errors'] as Array<{ path: string }>).map((e) => e.path),
      ['to.1', 'cc.0', 'subject'],
    );
    assert.match(err.message, /"bob@" is not a valid e-mail address/);
    assert.match(err.message, /unknown variable \{\{reprot\}\}/);
    assert.equal(peer.messages.length, countBefore);
  });

  test('a recipient outside the allowed domains is refused before anything is sent', async () => {
    const countBefore = peer.messages.length;
    const err = await deliveryErrorOf(
      sendReportEmail(
        { to: ['ana@example.test'], bcc: ['leak@elsewhere.test'] },
        fileOf(randomBytes(10)),
        context(),
        mailer,
        { allowedEmailDomains: ['Example.test'] },
      ),
    );
    assert.equal(err.retryable, false);
    assert.match(
      err.message,
      /bcc\.0: "leak@elsewhere\.test" is outside the workspace's allowed e-mail domains \(example\.test\)/,
    );
    assert.equal(peer.messages.length, countBefore);
  });

  test('an aborted delivery rejects with the reason and sends nothing', async () => {
    const countBefore = peer.messages.length;
    const controller = new AbortController();
    controller.abort(new Error('run cancelled'));
    await assert.rejects(
      sendReportEmail({ to: ['ana@example.test'] }, fileOf(randomBytes(10)), context(), mailer, {
        signal: controller.signal,
      }),
      /run cancelled/,
    );
    assert.equal(peer.messages.length, countBefore);
  });

  test('the test message goes to the To recipients only', async () => {
    let receipt: Awaited<ReturnType<typeof testReportEmail>> | undefined;
    const mail = await nextMail(async () => {
      receipt = await testReportEmail(
        { to: ['ana@example.test', 'bo@example.test'], cc: ['cc@example.test'], bcc: ['b@example.test'] },
        mailer,
      );
    });
    assert.deepEqual(mail.to.sort(), ['ana@example.test', 'bo@example.test']);
    assert.equal(mail.subject, 'Ferry test message');
    assert.equal(mail.headers.get('auto-submitted'), 'auto-generated');
    assert.equal(receipt?.details['sent'], 'test message');
  });
});

interface RcptPeer {
  config: SmtpConfig;
  messages: Array<{ to: string[]; parsed: ParsedMail }>;
  close(): Promise<void>;
}

/** An SMTP server that refuses the given mailboxes at RCPT TO, as a server does for an unknown user. */
async function startRcptRejectingSmtp(
  refused: Record<string, { code: number; message: string }>,
): Promise<RcptPeer> {
  const messages: RcptPeer['messages'] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: 500,
    onRcptTo(address, _session, callback) {
      const refusal = refused[address.address];
      if (!refusal) return callback();
      callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          messages.push({ to: session.envelope.rcptTo.map((r) => r.address), parsed });
          callback();
        })
        .catch(callback);
    },
  });
  const port = await new Promise<number>((resolve) => {
    const net = server.listen(0, '127.0.0.1', () => resolve((net.address() as AddressInfo).port));
  });
  return {
    config: smtpConfigOf('127.0.0.1', port),
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('per-recipient outcome', () => {
  let peer: RcptPeer;
  let mailer: Mailer;

  before(async () => {
    peer = await startRcptRejectingSmtp({
      'gone@example.test': { code: 550, message: '5.1.1 No such user here' },
      'left@example.test': { code: 550, message: '5.1.1 User left the company' },
      'full@example.test': { code: 452, message: '4.2.2 Mailbox full, try later' },
    });
    mailer = createMailer(peer.config);
  });
  after(async () => {
    mailer.close();
    await peer.close();
  });

  test('a rejected recipient does not fail the others: they get the file, the receipt names who did not', async () => {
    const countBefore = peer.messages.length;
    const bytes = randomBytes(50_000);
    const receipt = await sendReportEmail(
      { to: ['ana@example.test', 'gone@example.test'], cc: ['bo@example.test'] },
      fileOf(bytes),
      context(),
      mailer,
    );
    assert.equal(peer.messages.length, countBefore + 1);
    const received = peer.messages.at(-1);
    assert.deepEqual(received?.to.sort(), ['ana@example.test', 'bo@example.test']);
    assert.ok(received?.parsed.attachments[0]?.content.equals(bytes));

    assert.deepEqual((receipt.details['accepted'] as string[]).sort(), [
      'ana@example.test',
      'bo@example.test',
    ]);
    assert.deepEqual(receipt.details['rejected'], [
      { address: 'gone@example.test', reply: '550 5.1.1 No such user here', code: 550 },
    ]);
    assert.match(
      receipt.summary,
      /accepted for 2 of 3 recipient\(s\); rejected: gone@example\.test \(550 5\.1\.1 No such user here\)/,
    );
  });

  test('every recipient rejected for good: a permanent error listing each with the reply', async () => {
    const countBefore = peer.messages.length;
    const err = await deliveryErrorOf(
      sendReportEmail(
        { to: ['gone@example.test'], cc: ['left@example.test'] },
        fileOf(randomBytes(100)),
        context(),
        mailer,
      ),
    );
    assert.equal(err.retryable, false);
    assert.equal(
      err.message,
      'Every recipient was rejected: gone@example.test (550 5.1.1 No such user here), left@example.test (550 5.1.1 User left the company)',
    );
    assert.deepEqual(
      (err.details['rejected'] as Array<{ address: string }>).map((r) => r.address),
      ['gone@example.test', 'left@example.test'],
    );
    assert.equal(peer.messages.length, countBefore);
  });

  test('every recipient rejected and one only for now (4xx): retryable', async () => {
    const err = await deliveryErrorOf(
      sendReportEmail(
        { to: ['gone@example.test', 'full@example.test'] },
        fileOf(randomBytes(100)),
        context(),
        mailer,
      ),
    );
    assert.equal(err.retryable, true);
    assert.match(err.message, /full@example\.test \(452 4\.2\.2 Mailbox full, try later\)/);
  });

  test('after an all-rejected message the pooled connection still delivers the next one', async () => {
    await deliveryErrorOf(
      sendReportEmail({ to: ['gone@example.test'] }, fileOf(randomBytes(10)), context(), mailer),
    );
    const receipt = await sendReportEmail(
      { to: ['ana@example.test'] },
      fileOf(randomBytes(10)),
      context(),
      mailer,
    );
    assert.deepEqual(receipt.details['accepted'], ['ana@example.test']);
  });
});

describe("a tenant's own SMTP server", () => {
  test('the mailer connects to the checked address given, not to what the host name resolves to', async () => {
    const peer = await startSmtp();
    // A name that resolves nowhere: only connectTo can reach the server.
    const mailer = createMailer(smtpConfigOf('smtp.tenant.invalid', peer.port), undefined, {
      settings: 'tenant',
      connectTo: peer.host,
    });
    try {
      const receipt = await sendReportEmail(
        { to: ['ana@example.test'] },
        fileOf(randomBytes(10)),
        context(),
        mailer,
      );
      assert.deepEqual(receipt.details['accepted'], ['ana@example.test']);
      assert.equal((await peer.waitFor(1)).length, 1);
    } finally {
      mailer.close();
      await peer.close();
    }
  });

  test("a refused login is permanent and points at the destination's SMTP settings, not the environment", async () => {
    const peer = await startSmtp({ password: 'right-secret' });
    const config = { ...smtpConfigOf(peer.host, peer.port), user: 'ferry', password: 'wrong-secret' };
    const mailer = createMailer(config, undefined, { settings: 'tenant' });
    try {
      const err = await deliveryErrorOf(
        sendReportEmail({ to: ['ana@example.test'] }, fileOf(randomBytes(10)), context(), mailer),
      );
      assert.equal(err.retryable, false);
      assert.match(err.message, /535.*check the destination's SMTP user and password/);
      assert.doesNotMatch(err.message, /SMTP_USER|wrong-secret/);
    } finally {
      mailer.close();
      await peer.close();
    }
  });
});

describe('e-mail destination settings', () => {
  test('normalised with defaults: trimmed, deduplicated addresses, attach file, 10 MB, no zip', () => {
    assert.deepEqual(checkEmailSettings({ to: [' Ana@Example.TEST ', 'Ana@example.test'] }), {
      to: ['Ana@example.test'],
      cc: [],
      bcc: [],
      subject: undefined,
      text: undefined,
      html: undefined,
      attach: 'file',
      maxAttachmentBytes: 10_000_000,
      zip: false,
    });
  });

  test('no recipient, more than 50 in a list, a bad limit and unknown variables are each named', () => {
    const many = Array.from({ length: 51 }, (_, i) => `u${i}@example.test`);
    assert.throws(
      () => checkEmailSettings({ to: [], cc: many, html: '{{nope}}', maxAttachmentBytes: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof Invalid);
        assert.deepEqual(err.errors, [
          { path: 'cc', message: 'takes at most 50 addresses' },
          { path: 'to', message: 'needs at least one recipient' },
          {
            path: 'html',
            message: `unknown variable {{nope}}; the variables are {{report}}, {{schedule}}, {{run_time}}, {{date}}, {{rows}}, {{size}}, {{file}}, {{format}}, {{link}}, {{link_expires}}, {{status}}, {{error}}, {{tenant}}, {{recipient}}`,
          },
          { path: 'maxAttachmentBytes', message: 'must be a whole number from 1 to 100000000' },
        ]);
        return true;
      },
    );
  });

  test('allowed domains: exact domains, case-insensitive; a subdomain is another domain', () => {
    const allowed = ['example.test', '@Partner.test'];
    checkEmailSettings({ to: ['a@EXAMPLE.test'], cc: ['b@partner.test'] }, allowed);
    assert.throws(
      () => checkEmailSettings({ to: ['a@example.test', 'c@mail.example.test'] }, allowed),
      (err: unknown) => {
        assert.ok(err instanceof Invalid);
        assert.deepEqual(
          err.errors?.map((e) => e.path),
          ['to.1'],
        );
        return true;
      },
    );
  });
});
