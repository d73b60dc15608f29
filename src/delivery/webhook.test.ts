import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { Compile } from 'typebox/compile';
import { deliveryContext, deliveryFile, mondayMorningInBerlin } from '../../test/helpers/delivery-context.ts';
import {
  type Answer,
  type HttpReceiver,
  type ReceivedRequest,
  startHttpReceiver,
} from '../../test/helpers/peers/http.ts';
import { AppError } from '../lib/errors.ts';
import type { GuardOptions } from './ssrf-guard.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile } from './types.ts';
import {
  checkWebhookSettings,
  generateWebhookSecret,
  sendWebhook,
  WebhookSecrets,
  WebhookSettings,
} from './webhook.ts';

// Webhooks to a real HTTP receiver on loopback, which checks every signature
// with the independent `standardwebhooks` package, as a customer's endpoint would.

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(mondayMorningInBerlin, overrides);
}

const fileOf = (fileName: string, bytes: Buffer, contentType = 'text/csv; charset=utf-8'): DeliveryFile =>
  deliveryFile(bytes, fileName, contentType);

function headersOf(received: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(received.headers).map(([k, v]) => [k, String(v)]));
}

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

const csv = Buffer.from('region;amount\nNord;1200,50\nSüd;980,00\n');

describe('webhook delivery to a local receiver', () => {
  let receiver: HttpReceiver;
  let options: GuardOptions;
  const secret = generateWebhookSecret();
  before(async () => {
    receiver = await startHttpReceiver();
    options = { outbound: { allowPrivate: ['127.0.0.1'], timeoutMs: 5_000 } };
  });
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.answers.length = 0;
  });
  after(() => receiver.close());

  function settings(extra: Partial<WebhookSettings> = {}): WebhookSettings {
    return { url: receiver.url, mode: 'event', ...extra };
  }

  test('an event arrives signed, and its fields describe the run', async () => {
    const file = fileOf('sales.csv', csv);
    const receipt = await sendWebhook(settings(), [secret], file, context(), options);
    assert.equal(receipt.summary, 'HTTP 200: ok');
    assert.deepEqual(receipt.details, { status: 200, body: 'ok', webhookId: 'dlv_01', mode: 'event' });
    const [got] = receiver.received;
    assert.ok(got);
    assert.equal(got.headers['content-type'], 'application/json');
    const event = new Webhook(secret).verify(got.body.toString(), headersOf(got)) as Record<string, unknown>;
    assert.deepEqual(event, {
      type: 'run.succeeded',
      timestamp: '2026-05-04T06:00:07.000Z',
      data: {
        runId: 'run_01',
        status: 'succeeded',
        report: 'Sales by region',
        schedule: { id: 'sch_01', name: 'Monday morning' },
        runAt: '2026-05-04T06:00:00.000Z',
        runAtLocal: '2026-05-04T08:00:00+02:00',
        timeZone: 'Europe/Berlin',
        finishedAt: '2026-05-04T06:00:07.000Z',
        rowCount: 1234,
        format: 'csv',
        file: {
          name: 'sales.csv',
          size: csv.length,
          contentType: 'text/csv; charset=utf-8',
          sha256: file.checksum,
        },
        link: { url: 'https://ferry.example/d/abc', expiresAt: '2026-05-04T07:00:07.000Z' },
        error: null,
      },
    });
    assert.equal(got.headers['webhook-id'], 'dlv_01');
    assert.match(String(got.headers['webhook-timestamp']), /^\d{10}$/);
  });

  test('while rotating, each of the two secrets verifies the message, and no other does', async () => {
    const next = generateWebhookSecret();
    await sendWebhook(settings(), [secret, next], fileOf('sales.csv', csv), context(), options);
    const [got] = receiver.received;
    assert.ok(got);
    assert.equal(String(got.headers['webhook-signature']).split(' ').length, 2);
    for (const key of [secret, next]) new Webhook(key).verify(got.body.toString(), headersOf(got));
    assert.throws(() => new Webhook(generateWebhookSecret()).verify(got.body.toString(), headersOf(got)));
  });

  test('a retry carries the same webhook-id and body, each attempt signed for its own timestamp', async () => {
    const file = fileOf('sales.csv', csv);
    await sendWebhook(settings(), [secret], file, context({ attempt: 1 }), options);
    await sendWebhook(settings(), [secret], file, context({ attempt: 2 }), options);
    const [first, second] = receiver.received;
    assert.ok(first && second);
    assert.equal(first.headers['webhook-id'], 'dlv_01');
    assert.equal(second.headers['webhook-id'], 'dlv_01');
    assert.deepEqual(first.body, second.body);
    for (const got of [first, second]) new Webhook(secret).verify(got.body.toString(), headersOf(got));
  });

  test('file mode: the body is the file, with its type, name and checksum, and the signature covers it', async () => {
    const file = fileOf('Umsätze (März) 2026.csv', csv);
    await sendWebhook(settings({ mode: 'file' }), [secret], file, context(), options);
    const [got] = receiver.received;
    assert.ok(got);
    assert.deepEqual(got.body, csv);
    assert.equal(got.headers['content-type'], 'text/csv; charset=utf-8');
    assert.equal(got.headers['content-length'], String(csv.length));
    assert.equal(
      got.headers['x-ferry-checksum'],
      `sha256=${createHash('sha256').update(got.body).digest('hex')}`,
    );
    const name = String(got.headers['x-ferry-file-name']);
    assert.match(name, /^UTF-8''[A-Za-z0-9!#$&+.^_`|~%-]+$/);
    assert.equal(decodeURIComponent(name.slice("UTF-8''".length)), 'Umsätze (März) 2026.csv');
    assert.equal(got.headers['x-ferry-run-id'], 'run_01');
    new Webhook(secret).verify(got.body, headersOf(got), { jsonParse: false });
  });

  test('file mode with a binary file of several chunks: bytes intact, HMAC over the raw bytes', async () => {
    // standardwebhooks decodes the body as UTF-8 before signing, which mangles
    // binary bytes, so the receiver here computes the HMAC itself.
    const bytes = randomBytes(1_000_000);
    await sendWebhook(
      settings({ mode: 'file' }),
      [secret],
      fileOf('data.parquet', bytes, 'application/vnd.apache.parquet'),
      context(),
      options,
    );
    const [got] = receiver.received;
    assert.ok(got);
    assert.ok(got.body.equals(bytes));
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signed = Buffer.concat([Buffer.from(`dlv_01.${got.headers['webhook-timestamp']}.`), got.body]);
    assert.equal(
      got.headers['webhook-signature'],
      `v1,${createHmac('sha256', key).update(signed).digest('base64')}`,
    );
  });

  test('file mode for a failed run (no file) sends the run.failed event', async () => {
    const ctx = context({
      status: 'failed',
      error: 'relation "sales" does not exist',
      link: null,
      rowCount: 0,
    });
    await sendWebhook(settings({ mode: 'file' }), [secret], null, ctx, options);
    const [got] = receiver.received;
    assert.ok(got);
    const event = new Webhook(secret).verify(got.body.toString(), headersOf(got)) as {
      type: string;
      data: Record<string, unknown>;
    };
    assert.equal(event.type, 'run.failed');
    assert.equal(event.data['error'], 'relation "sales" does not exist');
    assert.equal(event.data['file'], null);
  });

  test('a stored file that no longer matches its checksum is not sent', async () => {
    const file = { ...fileOf('sales.csv', csv), checksum: '0'.repeat(64) };
    const failure = await failureOf(
      sendWebhook(settings({ mode: 'file' }), [secret], file, context(), options),
    );
    assert.match(failure.message, /does not match its checksum/);
    assert.equal(failure.retryable, false);
    assert.equal(receiver.received.length, 0);
  });

  test('a stored file that cannot be read fails retryably and sends nothing', async () => {
    const file = {
      ...fileOf('sales.csv', csv),
      open: () => Promise.reject(new Error('ENOENT: no such file')),
    };
    const failure = await failureOf(
      sendWebhook(settings({ mode: 'file' }), [secret], file, context(), options),
    );
    assert.equal(failure.message, 'Cannot read the stored file sales.csv');
    assert.equal(failure.retryable, true);
    assert.equal(receiver.received.length, 0);
  });

  test('custom headers arrive; a header Ferry owns cannot be replaced', async () => {
    const headers = { 'X-Api-Key': 'k-123', 'webhook-id': 'forged' };
    await sendWebhook(settings({ headers }), [secret], fileOf('sales.csv', csv), context(), options);
    const [got] = receiver.received;
    assert.equal(got?.headers['x-api-key'], 'k-123');
    assert.equal(got?.headers['webhook-id'], 'dlv_01');
  });

  test('2xx other than 200 is success', async () => {
    receiver.answers.push((res) => res.writeHead(204).end());
    const receipt = await sendWebhook(settings(), [secret], null, context(), options);
    assert.equal(receipt.summary, 'HTTP 204');
  });

  const failures: [string, Answer, boolean, RegExp, number | undefined][] = [
    [
      '410 Gone stops for good',
      (r) => r.writeHead(410).end('endpoint disabled'),
      false,
      /asked not to be sent webhooks any more/,
      undefined,
    ],
    [
      '429 is retried after Retry-After seconds',
      (r) => r.writeHead(429, { 'retry-after': '7' }).end('slow down'),
      true,
      /answered HTTP 429 Too Many Requests: slow down/,
      7000,
    ],
    [
      '500 is retried',
      (r) => r.writeHead(500).end('boom'),
      true,
      /answered HTTP 500 Internal Server Error: boom/,
      undefined,
    ],
    ['408 is retried', (r) => r.writeHead(408).end(), true, /answered HTTP 408/, undefined],
    [
      '404 is permanent',
      (r) => r.writeHead(404).end('no such hook'),
      false,
      /answered HTTP 404 Not Found: no such hook/,
      undefined,
    ],
    [
      'a 302 is not followed for a POST and is permanent',
      (r) => r.writeHead(302, { location: '/elsewhere' }).end(),
      false,
      /HTTP 302 Found \(a redirect that cannot be followed/,
      undefined,
    ],
  ];
  for (const [name, answer, retryable, message, retryAfterMs] of failures) {
    test(`status: ${name}`, async () => {
      receiver.answers.push(answer);
      const failure = await failureOf(sendWebhook(settings(), [secret], null, context(), options));
      assert.match(failure.message, message);
      assert.equal(failure.retryable, retryable);
      assert.equal(failure.retryAfterMs, retryAfterMs);
      assert.equal(receiver.received.length, 1);
    });
  }

  test('status: 503 with Retry-After as an HTTP date', async () => {
    const at = new Date(Date.now() + 3_600_000).toUTCString();
    receiver.answers.push((r) => r.writeHead(503, { 'retry-after': at }).end());
    const failure = await failureOf(sendWebhook(settings(), [secret], null, context(), options));
    assert.equal(failure.retryable, true);
    assert.ok(
      failure.retryAfterMs !== undefined && failure.retryAfterMs > 0 && failure.retryAfterMs <= 3_600_000,
    );
  });

  test('a receiver that never answers fails retryably at the time limit', async () => {
    receiver.answers.push(() => {});
    const short = { outbound: { allowPrivate: ['127.0.0.1'], timeoutMs: 300 } };
    const failure = await failureOf(sendWebhook(settings(), [secret], null, context(), short));
    assert.match(failure.message, /did not answer within 0\.3 s/);
    assert.equal(failure.retryable, true);
  });

  test('without loopback allow-listed, the same receiver is refused and receives nothing', async () => {
    const strict = { outbound: { allowPrivate: [], timeoutMs: 5_000 } };
    const failure = await failureOf(sendWebhook(settings(), [secret], null, context(), strict));
    assert.match(failure.message, /127\.0\.0\.1 is a loopback address/);
    assert.equal(failure.retryable, false);
    assert.equal(receiver.received.length, 0);
  });
});

describe('webhook settings', () => {
  const policy = { allowPrivate: [], timeoutMs: 5_000 };
  const secrets = { secrets: [generateWebhookSecret()] };

  async function invalidOf(promise: Promise<unknown>): Promise<AppError> {
    const err = await promise.then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError && err.code === 'Invalid', inspect(err));
    return err;
  }

  test('generated secrets are whsec_ + base64 of 32 bytes and differ each time', () => {
    const a = generateWebhookSecret();
    assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(a.slice(6), 'base64').length, 32);
    assert.notEqual(a, generateWebhookSecret());
  });

  test('a private URL, a header Ferry owns and a short secret are refused, each naming its field', async () => {
    const privateUrl = await invalidOf(
      checkWebhookSettings({ url: 'http://10.0.0.1/hook', mode: 'event' }, secrets, policy),
    );
    assert.equal(privateUrl.message, 'settings.url: 10.0.0.1: 10.0.0.1 is a private address');
    const header = await invalidOf(
      checkWebhookSettings(
        { url: 'https://93.184.216.34/', mode: 'event', headers: { Host: 'x' } },
        secrets,
        policy,
      ),
    );
    assert.match(header.message, /^settings\.headers\.Host: /);
    const short = await invalidOf(
      checkWebhookSettings(
        { url: 'https://93.184.216.34/', mode: 'event' },
        { secrets: [`whsec_${randomBytes(16).toString('base64')}`] },
        policy,
      ),
    );
    assert.match(short.message, /^secrets\.secrets\.0: must be whsec_ followed by base64 of 24 to 64 bytes/);
  });

  test('the schemas take a valid destination and reject malformed headers, modes and secrets', () => {
    const settingsSchema = Compile(WebhookSettings);
    const secretsSchema = Compile(WebhookSecrets);
    const url = 'https://hooks.example.com/ferry';
    assert.ok(settingsSchema.Check({ url, mode: 'file', headers: { 'X-Api-Key': 'k' } }));
    assert.equal(settingsSchema.Check({ url, mode: 'push' }), false);
    assert.equal(settingsSchema.Check({ url, mode: 'event', headers: { 'Bad Name': 'v' } }), false);
    assert.equal(
      settingsSchema.Check({ url, mode: 'event', headers: { 'X-A': 'v\r\nX-B: injected' } }),
      false,
    );
    assert.ok(secretsSchema.Check({ secrets: [generateWebhookSecret(), generateWebhookSecret()] }));
    assert.equal(secretsSchema.Check({ secrets: [] }), false);
    assert.equal(secretsSchema.Check({ secrets: Array.from({ length: 3 }, generateWebhookSecret) }), false);
    assert.equal(secretsSchema.Check({ secrets: ['plain-password'] }), false);
  });

  test('a public URL with valid secrets passes', async () => {
    await checkWebhookSettings({ url: 'https://93.184.216.34/hook', mode: 'file' }, secrets, policy);
  });
});
