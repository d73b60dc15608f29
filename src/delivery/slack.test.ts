import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { deliveryContext, deliveryFile } from '../../test/helpers/delivery-context.ts';
import { Invalid } from '../lib/errors.ts';
import {
  checkSlackSecrets,
  checkSlackSettings,
  type SlackSendOptions,
  sendSlack,
  testSlack,
} from './slack.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile } from './types.ts';

// Slack's Web API played by a local HTTP server that keeps what it was sent:
// the methods of the external upload flow, the upload URL itself and
// chat.postMessage. The client is the real @slack/web-api pointed at it.

interface Call {
  method: string;
  params: Record<string, string>;
  authorization: string | undefined;
}

type Answer = { status?: number; headers?: Record<string, string>; body: unknown };

class SlackPeer {
  calls: Call[] = [];
  uploads = new Map<string, Buffer>();
  uploadHeaders: IncomingMessage['headers'][] = [];
  /** Per method: what to answer instead of success. */
  overrides = new Map<string, Answer>();
  uploadStatus = 200;
  private server = createHttpServer((req, res) => void this.handle(req, res));
  private nextFile = 1;
  base = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    assert.ok(address && typeof address === 'object');
    this.base = `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.calls = [];
    this.uploads.clear();
    this.uploadHeaders = [];
    this.overrides.clear();
    this.uploadStatus = 200;
  }

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const path = new URL(req.url ?? '/', this.base).pathname;
    if (path.startsWith('/upload/')) {
      this.uploads.set(path.slice('/upload/'.length), body);
      this.uploadHeaders.push(req.headers);
      res
        .writeHead(this.uploadStatus, { 'content-type': 'text/plain' })
        .end(this.uploadStatus === 200 ? 'OK' : 'nope');
      return;
    }
    const method = path.replace(/^\/api\//, '');
    const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    this.calls.push({ method, params, authorization: req.headers.authorization });
    const answer = this.overrides.get(method) ?? this.success(method, params);
    res
      .writeHead(answer.status ?? 200, {
        'content-type': 'application/json; charset=utf-8',
        ...answer.headers,
      })
      .end(JSON.stringify(answer.body));
  }

  private success(method: string, params: Record<string, string>): Answer {
    switch (method) {
      case 'auth.test':
        return { body: { ok: true, team: 'Acme', user: 'ferry-bot', user_id: 'U0BOT', team_id: 'T0ACME' } };
      case 'files.getUploadURLExternal': {
        const id = `F0FILE${this.nextFile++}`;
        return { body: { ok: true, file_id: id, upload_url: `${this.base}/upload/${id}` } };
      }
      case 'files.completeUploadExternal': {
        const files = JSON.parse(params['files'] ?? '[]') as { id: string; title: string }[];
        return {
          body: { ok: true, files: files.map((f) => ({ ...f, permalink: `${this.base}/files/${f.id}` })) },
        };
      }
      case 'chat.postMessage':
        return { body: { ok: true, channel: params['channel'], ts: '1767225600.000100' } };
      default:
        return { body: { ok: false, error: 'unknown_method' } };
    }
  }
}

const CHANNEL = 'C0123ABCDE';
const TOKEN = 'xoxb-1-2-test';

const fileOf = (bytes: Buffer, fileName = 'sales.csv'): DeliveryFile => deliveryFile(bytes, fileName);

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext(
    {
      timeZone: 'Europe/Vienna',
      rowCount: 1234,
      link: {
        url: 'https://ferry.example.test/d/abc?sig=x&exp=1',
        expiresAt: new Date('2026-03-09T07:00:00Z'),
      },
    },
    overrides,
  );
}

async function rejectionOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

describe('Slack delivery against a local Web API peer', () => {
  const peer = new SlackPeer();
  let options: SlackSendOptions;

  before(async () => {
    await peer.start();
    options = { outbound: { allowPrivate: [], timeoutMs: 5000 }, slackApiUrl: `${peer.base}/api/` };
  });
  after(() => peer.close());
  beforeEach(() => peer.reset());

  test('the file is uploaded through the external upload flow: the bytes that arrive are the file', async () => {
    const bytes = randomBytes(300_000);
    const receipt = await sendSlack(
      { channel: CHANNEL },
      { botToken: TOKEN },
      fileOf(bytes),
      context(),
      options,
    );

    assert.deepEqual(peer.methods(), ['files.getUploadURLExternal', 'files.completeUploadExternal']);
    const [ticket, complete] = peer.calls;
    assert.equal(ticket!.authorization, `Bearer ${TOKEN}`);
    assert.equal(ticket!.params['filename'], 'sales.csv');
    assert.equal(ticket!.params['length'], String(bytes.length));
    assert.ok(peer.uploads.get('F0FILE1')?.equals(bytes), 'the uploaded bytes equal the file');
    // Streamed with its length announced, not chunked.
    assert.equal(peer.uploadHeaders[0]!['content-length'], String(bytes.length));
    assert.equal(peer.uploadHeaders[0]!['transfer-encoding'], undefined);
    assert.equal(complete!.params['channel_id'], CHANNEL);
    assert.deepEqual(JSON.parse(complete!.params['files']!), [{ id: 'F0FILE1', title: 'sales.csv' }]);
    const comment = complete!.params['initial_comment']!;
    assert.match(comment, /\*Sales\* \(Daily\): 1,234 rows, sales\.csv \(300 kB\)/);
    // 07:00 UTC is 08:00 in Vienna.
    assert.match(comment, /2026-03-02 08:00 Europe\/Vienna/);
    assert.equal(receipt.details['fileId'], 'F0FILE1');
    assert.equal(receipt.details['channel'], CHANNEL);
  });

  test("the destination's message template is used, with values escaped for Slack", async () => {
    await sendSlack(
      { channel: CHANNEL, message: 'Hi! {{report}} for {{date}}: {{rows}} rows' },
      { botToken: TOKEN },
      fileOf(Buffer.from('a,b\n')),
      context({ reportName: '<!channel> & co' }),
      options,
    );
    assert.equal(
      peer.calls[1]!.params['initial_comment'],
      'Hi! &lt;!channel&gt; &amp; co for 2026-03-02: 1,234 rows',
    );
  });

  test('a file over the limit is not uploaded: the summary and the signed link are posted', async () => {
    const receipt = await sendSlack(
      { channel: CHANNEL, maxUploadMb: 1 },
      { botToken: TOKEN },
      fileOf(randomBytes(1_000_001)),
      context(),
      options,
    );
    assert.deepEqual(peer.methods(), ['chat.postMessage']);
    assert.equal(peer.uploads.size, 0);
    const text = peer.calls[0]!.params['text']!;
    assert.match(text, /\*Sales\* \(Daily\): 1,234 rows/);
    assert.ok(
      text.includes(
        'Too large for Slack (1 MB): <https://ferry.example.test/d/abc?sig=x&amp;exp=1|sales.csv>',
      ),
      text,
    );
    assert.equal(receipt.details['ts'], '1767225600.000100');

    // The limit is in decimal megabytes, as Ferry's other limits: 1,000,000 bytes still go up.
    peer.reset();
    await sendSlack(
      { channel: CHANNEL, maxUploadMb: 1 },
      { botToken: TOKEN },
      fileOf(randomBytes(1_000_000)),
      context(),
      options,
    );
    assert.deepEqual(peer.methods(), ['files.getUploadURLExternal', 'files.completeUploadExternal']);
  });

  test('a file over the limit without a download link fails for good', async () => {
    const error = await rejectionOf(
      sendSlack(
        { channel: CHANNEL, maxUploadMb: 1 },
        { botToken: TOKEN },
        fileOf(randomBytes(1_000_001)),
        context({ link: null }),
        options,
      ),
    );
    assert.equal(error.retryable, false);
    assert.match(error.message, /over this destination's 1 MB upload limit/);
    assert.deepEqual(peer.methods(), []);
  });

  test('a failed run posts its failure notice', async () => {
    await sendSlack(
      { channel: CHANNEL, message: '{{report}}: {{rows}} rows attached' },
      { botToken: TOKEN },
      null,
      context({ status: 'failed', error: 'relation "sales" does not exist' }),
      options,
    );
    assert.deepEqual(peer.methods(), ['chat.postMessage']);
    // Not the success template: a failed run has no rows or file to speak of.
    assert.equal(
      peer.calls[0]!.params['text'],
      ':warning: *Sales* (Daily) failed: relation "sales" does not exist\nRun of 2026-03-02 08:00 Europe/Vienna',
    );
  });

  test('429 becomes a retryable error carrying Retry-After, and the client does not retry by itself', async () => {
    peer.overrides.set('files.getUploadURLExternal', {
      status: 429,
      headers: { 'retry-after': '7' },
      body: { ok: false, error: 'ratelimited' },
    });
    const error = await rejectionOf(
      sendSlack({ channel: CHANNEL }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterMs, 7000);
    assert.deepEqual(peer.methods(), ['files.getUploadURLExternal']);
  });

  test('not_in_channel is permanent and says to invite the bot', async () => {
    peer.overrides.set('files.completeUploadExternal', { body: { ok: false, error: 'not_in_channel' } });
    const error = await rejectionOf(
      sendSlack({ channel: CHANNEL }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(error.retryable, false);
    assert.match(error.message, /not_in_channel.*invite/);
    assert.equal(error.details['error'], 'not_in_channel');
  });

  test('auth errors are permanent; Slack outages and refused uploads to the upload URL are retryable', async () => {
    for (const reason of ['invalid_auth', 'token_revoked', 'channel_not_found', 'account_inactive']) {
      peer.overrides.set('files.getUploadURLExternal', { body: { ok: false, error: reason } });
      const error = await rejectionOf(
        sendSlack({ channel: CHANNEL }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), options),
      );
      assert.equal(error.retryable, false, reason);
      assert.match(error.message, new RegExp(reason));
    }
    peer.reset();
    peer.overrides.set('files.getUploadURLExternal', { status: 503, body: { ok: false } });
    const outage = await rejectionOf(
      sendSlack({ channel: CHANNEL }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(outage.retryable, true);
    assert.match(outage.message, /HTTP 503/);
    assert.deepEqual(peer.methods(), ['files.getUploadURLExternal'], 'the client does not retry: Ferry does');

    peer.reset();
    peer.uploadStatus = 500;
    const upload = await rejectionOf(
      sendSlack({ channel: CHANNEL }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(upload.retryable, true);
    assert.deepEqual(peer.methods(), ['files.getUploadURLExternal'], 'no completion after a failed upload');
  });

  test('an unreachable API is retryable', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await rejectionOf(
      sendSlack({ channel: CHANNEL }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), {
        ...options,
        slackApiUrl: `http://127.0.0.1:${port}/api/`,
      }),
    );
    assert.equal(error.retryable, true);
  });

  test('channel names are refused with a pointer to the id, before any call', async () => {
    const error = await rejectionOf(
      sendSlack({ channel: '#general' }, { botToken: TOKEN }, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(error.retryable, false);
    assert.match(error.message, /channel's id \(C…, G… or D…\), not its name/);
    assert.deepEqual(peer.methods(), []);
    assert.throws(
      () => checkSlackSettings({ channel: 'general' }),
      (err) => err instanceof Invalid && /not its name/.test(err.message),
    );
    assert.throws(() => checkSlackSettings({ channel: 'U0123ABCDE' }), /user id/);
    assert.throws(
      () => checkSlackSettings({ channel: CHANNEL, message: '{{report}} {{rowz}}' }),
      /unknown variable \{\{rowz\}\}/,
    );
    assert.doesNotThrow(() => checkSlackSettings({ channel: CHANNEL, message: '{{report}} {{date}}' }));
    // A template saved before it was checked fails the delivery for good, before any call.
    const template = await rejectionOf(
      sendSlack(
        { channel: CHANNEL, message: '{{rowz}}' },
        { botToken: TOKEN },
        fileOf(Buffer.from('x')),
        context(),
        options,
      ),
    );
    assert.equal(template.retryable, false);
    assert.match(template.message, /Slack message template: .*\{\{rowz\}\}/);
    assert.deepEqual(peer.methods(), []);
    assert.throws(() => checkSlackSecrets({ botToken: 'xoxp-user-token' }), /bot token/);
  });

  test('the destination test checks the token and posts a test message', async () => {
    const receipt = await testSlack({ channel: CHANNEL }, { botToken: TOKEN }, options);
    assert.deepEqual(peer.methods(), ['auth.test', 'chat.postMessage']);
    assert.equal(peer.calls[1]!.params['channel'], CHANNEL);
    assert.match(peer.calls[1]!.params['text']!, /Ferry test message/);
    assert.match(receipt.summary, /Connected to Acme as ferry-bot/);

    peer.overrides.set('auth.test', { body: { ok: false, error: 'invalid_auth' } });
    const error = await rejectionOf(testSlack({ channel: CHANNEL }, { botToken: TOKEN }, options));
    assert.equal(error.retryable, false);
  });
});
