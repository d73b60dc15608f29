import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { deliveryContext, mondayMorningInBerlin } from '../../test/helpers/delivery-context.ts';
import {
  answerWith,
  type HttpReceiver,
  type ReceivedRequest,
  startHttpReceiver,
} from '../../test/helpers/peers/http.ts';
import { AppError } from '../lib/errors.ts';
import type { GuardOptions } from './ssrf-guard.ts';
import { checkTeamsSecrets, checkTeamsUrl, MAX_CARD_BYTES, sendTeams } from './teams.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile } from './types.ts';

// Teams messages to a local receiver standing in for the workflow endpoint: it
// answers 202 like Power Automate and the test reads the card back as JSON.

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(mondayMorningInBerlin, overrides);
}

const bytes = Buffer.alloc(2_500_000, 'a');
const file: DeliveryFile = {
  fileName: 'sales.csv',
  contentType: 'text/csv',
  size: bytes.length,
  checksum: createHash('sha256').update(bytes).digest('hex'),
  open: async () => Readable.from([bytes]),
};

async function failureOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

interface Card {
  type: string;
  version: string;
  body: { type: string; text?: string; color?: string; facts?: { title: string; value: string }[] }[];
  actions: { type: string; title: string; url: string }[];
}

function cardOf(received: ReceivedRequest | undefined): Card {
  assert.ok(received, 'the receiver got a message');
  const message = JSON.parse(received.body.toString());
  assert.equal(message.type, 'message');
  assert.equal(message.attachments.length, 1);
  assert.equal(message.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
  return message.attachments[0].content;
}

describe('Teams delivery to a local workflow endpoint', () => {
  let receiver: HttpReceiver;
  let options: GuardOptions;
  before(async () => {
    receiver = await startHttpReceiver(
      '/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SECRETSIG',
      answerWith(202, ''),
    );
    options = { outbound: { allowPrivate: ['127.0.0.1'], timeoutMs: 5_000 } };
  });
  beforeEach(() => {
    receiver.received.length = 0;
    receiver.answers.length = 0;
  });
  after(() => receiver.close());

  test('a succeeded run arrives as an Adaptive Card with its facts and an Open file button', async () => {
    const receipt = await sendTeams({ url: receiver.url }, file, context(), options);
    assert.equal(receipt.summary, 'HTTP 202 Accepted');
    const [got] = receiver.received;
    assert.equal(got?.headers['content-type'], 'application/json');
    const card = cardOf(got);
    assert.equal(card.type, 'AdaptiveCard');
    assert.equal(card.version, '1.4');
    assert.equal(card.body[0]?.text, 'Sales by region');
    assert.deepEqual(card.body[1]?.facts, [
      { title: 'Schedule', value: 'Monday morning' },
      { title: 'Run time', value: '4 May 2026, 08:00 (Europe/Berlin)' },
      { title: 'Status', value: 'Succeeded' },
      { title: 'Rows', value: '1,234' },
      { title: 'File', value: 'sales.csv (2.4 MB)' },
      { title: 'Link valid until', value: '4 May 2026, 09:00 (Europe/Berlin)' },
    ]);
    assert.deepEqual(card.actions, [
      { type: 'Action.OpenUrl', title: 'Open file', url: 'https://ferry.example/d/abc' },
    ]);
  });

  test('a failed run shows its error; a huge error is cut so the message stays under the size limit', async () => {
    const error = `ERROR: ${'x'.repeat(100_000)}`;
    await sendTeams({ url: receiver.url }, null, context({ status: 'failed', error, link: null }), options);
    const [got] = receiver.received;
    assert.ok(got && Buffer.byteLength(got.body) <= MAX_CARD_BYTES);
    const card = cardOf(got);
    const facts = card.body[1]?.facts ?? [];
    assert.deepEqual(
      facts.find((f) => f.title === 'Status'),
      { title: 'Status', value: 'Failed' },
    );
    assert.equal(
      facts.some((f) => f.title === 'Rows' || f.title === 'File'),
      false,
    );
    const shown = card.body[2];
    assert.equal(shown?.color, 'Attention');
    assert.ok(shown?.text?.startsWith('ERROR: xxx') && shown.text.endsWith('…'));
    assert.deepEqual(card.actions, []);
  });

  test('an error of multi-byte characters is cut too, and a message over the limit is refused unsent', async () => {
    const error = '⚠'.repeat(50_000);
    await sendTeams({ url: receiver.url }, null, context({ status: 'failed', error, link: null }), options);
    assert.ok(Buffer.byteLength(receiver.received[0]?.body ?? '') <= MAX_CARD_BYTES);
    const link = {
      url: `https://ferry.example/d/${'t'.repeat(40_000)}`,
      expiresAt: new Date('2026-05-04T07:00:07Z'),
    };
    const failure = await failureOf(sendTeams({ url: receiver.url }, file, context({ link }), options));
    assert.match(failure.message, /over the 28000 Teams accepts/);
    assert.equal(failure.retryable, false);
    assert.equal(receiver.received.length, 1);
  });

  test('429 is retryable with its Retry-After; 500 retryable; 400 permanent; no message shows the sig', async () => {
    receiver.answers.push((r) => r.writeHead(429, { 'retry-after': '30' }).end('{"error":"throttled"}'));
    const throttled = await failureOf(sendTeams({ url: receiver.url }, file, context(), options));
    assert.equal(throttled.retryable, true);
    assert.equal(throttled.retryAfterMs, 30_000);
    receiver.answers.push((r) => r.writeHead(500).end());
    const down = await failureOf(sendTeams({ url: receiver.url }, file, context(), options));
    assert.equal(down.retryable, true);
    receiver.answers.push((r) => r.writeHead(400).end('{"error":{"code":"InvalidRequestContent"}}'));
    const bad = await failureOf(sendTeams({ url: receiver.url }, file, context(), options));
    assert.equal(bad.retryable, false);
    assert.match(
      bad.message,
      /answered HTTP 400 Bad Request: \{"error":\{"code":"InvalidRequestContent"\}\}/,
    );
    for (const failure of [throttled, down, bad]) assert.doesNotMatch(failure.message, /SECRETSIG/);
  });

  test('without the operator allow-listing it, the local endpoint is not a Teams URL', async () => {
    const strict = { outbound: { allowPrivate: [], timeoutMs: 5_000 } };
    const failure = await failureOf(sendTeams({ url: receiver.url }, file, context(), strict));
    assert.match(failure.message, /is not a Teams workflow URL/);
    assert.equal(receiver.received.length, 0);
  });
});

describe('Teams URLs', () => {
  const policy = { allowPrivate: [], timeoutMs: 5_000 };

  test('retired Office 365 connector URLs are refused, saying what to use instead', async () => {
    for (const url of [
      'https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d',
      'https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d',
    ]) {
      assert.throws(
        () => checkTeamsUrl(url, policy),
        (err) =>
          err instanceof DeliveryError &&
          !err.retryable &&
          /retired/.test(err.message) &&
          /workflow/.test(err.message),
      );
      const failure = await failureOf(sendTeams({ url }, file, context(), { outbound: policy }));
      assert.match(failure.message, /Office 365 connector URL/);
    }
  });

  test('Workflows hosts pass over https only; other hosts are refused', () => {
    const logic =
      'https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=s';
    const power =
      'https://default1234.ab.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc?sig=s';
    assert.equal(checkTeamsUrl(logic, policy).hostname, 'prod-12.westeurope.logic.azure.com');
    assert.equal(checkTeamsUrl(power, policy).hostname, 'default1234.ab.environment.api.powerplatform.com');
    assert.throws(() => checkTeamsUrl(logic.replace('https:', 'http:'), policy), /must use https/);
    assert.throws(
      () => checkTeamsUrl('https://logic.azure.com.evil.example/x', policy),
      /not a Teams workflow URL/,
    );
  });

  test('saving a connector URL names the secret field', async () => {
    const err = await checkTeamsSecrets(
      { url: 'https://contoso.webhook.office.com/webhookb2/x' },
      policy,
    ).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError && err.code === 'Invalid');
    assert.match(err.message, /^secrets\.url: contoso\.webhook\.office\.com is an Office 365 connector URL/);
  });
});
