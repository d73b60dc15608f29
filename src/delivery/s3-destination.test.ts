import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { deliveryContext, deliveryFile } from '../../test/helpers/delivery-context.ts';
import { type S3Peer, startS3 } from '../../test/helpers/s3.ts';
import { Invalid } from '../lib/errors.ts';
import { checkS3Settings, type S3DestinationSettings, sendS3, testS3 } from './s3-destination.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile, type SendOptions } from './types.ts';

// The S3 destination against s3rver on localhost: what the bucket holds
// afterwards is read back with a separate client.

const fileOf = (bytes: Buffer, fileName = 'sales.csv'): DeliveryFile => deliveryFile(bytes, fileName);

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return deliveryContext({ timeZone: 'America/New_York' }, overrides);
}

// Loopback is refused by default: these tests, and only they, allow it.
const options: SendOptions = { outbound: { allowPrivate: ['127.0.0.0/8'], timeoutMs: 5000 } };

async function rejectionOf(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${inspect(err)}`);
    return err;
  }
  assert.fail('expected the promise to reject');
}

/** An HTTP proxy in front of the store that keeps each request's method and path with query. */
async function startRecordingProxy(
  target: string,
): Promise<{ endpoint: string; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const upstream = new URL(target);
  const server = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A store that answers every request with one S3 error. */
async function withFailingStore(
  status: number,
  code: string,
  work: (endpoint: string) => Promise<void>,
): Promise<void> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(status, { 'content-type': 'application/xml' })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} from the test store</Message></Error>`,
        ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await work(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('S3 destination against a local S3-compatible server', () => {
  let s3: S3Peer;
  let settings: S3DestinationSettings;
  let reader: S3Client;
  const secrets = { secretAccessKey: 'S3RVER' };

  before(async () => {
    s3 = await startS3('tenant-drop');
    settings = {
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      accessKeyId: 'S3RVER',
      prefix: 'reports',
      pathTemplate: '{schedule}/{date:yyyy/MM/dd}/{file}',
    };
    reader = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  });
  after(async () => {
    reader.destroy();
    await s3.close();
  });

  async function objectBytes(key: string): Promise<Buffer> {
    const object = await reader.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  }

  test('the object holds the bytes under prefix + template, with the sha256 as metadata', async () => {
    const bytes = randomBytes(200_000);
    const file = fileOf(bytes, 'sales 2026 – März.csv');
    const receipt = await sendS3(settings, secrets, file, context(), options);

    // 07:00 UTC is 02:00 in New York: the date folders are local.
    const key = 'reports/Daily/2026/03/02/sales 2026 – März.csv';
    assert.equal(receipt.details['key'], key);
    assert.ok((await objectBytes(key)).equals(bytes), 'the object equals the file');
    const head = await reader.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.equal(head.Metadata?.['sha256'], file.checksum);
    assert.equal(head.ContentType, 'text/csv');
    assert.equal(
      head.ContentDisposition,
      `attachment; filename="sales 2026 _ M_rz.csv"; filename*=UTF-8''sales%202026%20%E2%80%93%20M%C3%A4rz.csv`,
    );
    assert.equal(receipt.details['etag'], head.ETag);
    assert.equal(receipt.details['bucket'], s3.bucket);
    assert.ok('versionId' in receipt.details);
  });

  test('a file larger than one part goes up as a multipart upload of 8 MB parts and arrives whole', async () => {
    const bytes = randomBytes(9 * 1024 * 1024 + 5);
    const proxy = await startRecordingProxy(s3.endpoint);
    try {
      await sendS3(
        {
          ...settings,
          endpoint: proxy.endpoint,
          pathTemplate: 'big/{file}',
          contentType: 'application/octet-stream',
        },
        secrets,
        fileOf(bytes, 'big.bin'),
        context(),
        options,
      );
    } finally {
      proxy.close();
    }
    const uploadCalls = proxy.requests.map((r) =>
      r.replace(/uploadId=[^&]+/, 'uploadId=…').replace(/&x-id=[A-Za-z]+/, ''),
    );
    assert.deepEqual(uploadCalls, [
      'POST /tenant-drop/reports/big/big.bin?uploads=',
      'PUT /tenant-drop/reports/big/big.bin?partNumber=1&uploadId=…',
      'PUT /tenant-drop/reports/big/big.bin?partNumber=2&uploadId=…',
      'POST /tenant-drop/reports/big/big.bin?uploadId=…',
    ]);
    assert.ok((await objectBytes('reports/big/big.bin')).equals(bytes));
    const head = await reader.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'reports/big/big.bin' }));
    assert.equal(head.ContentType, 'application/octet-stream');
    assert.equal(head.Metadata?.['sha256'], createHash('sha256').update(bytes).digest('hex'));
  });

  test('a bucket that does not exist is a permanent failure', async () => {
    const error = await rejectionOf(
      sendS3(
        { ...settings, bucket: 'no-such-bucket' },
        secrets,
        fileOf(Buffer.from('x')),
        context(),
        options,
      ),
    );
    assert.equal(error.retryable, false);
    assert.match(error.message, /NoSuchBucket/);
  });

  test('an unknown access key is a permanent failure', async () => {
    const error = await rejectionOf(
      sendS3({ ...settings, accessKeyId: 'NOBODY' }, secrets, fileOf(Buffer.from('x')), context(), options),
    );
    assert.equal(error.retryable, false);
    assert.match(error.message, /InvalidAccessKeyId/);
  });

  test("a store's refusals are permanent, its overload retryable", async () => {
    // s3rver does not check SigV4 signatures or policies: a store that answers with the error plays AWS here.
    const cases: [number, string, boolean][] = [
      [403, 'SignatureDoesNotMatch', false],
      [403, 'AccessDenied', false],
      [503, 'SlowDown', true],
      [500, 'InternalError', true],
    ];
    for (const [status, code, retryable] of cases) {
      await withFailingStore(status, code, async (endpoint) => {
        const error = await rejectionOf(
          sendS3({ ...settings, endpoint }, secrets, fileOf(Buffer.from('x')), context(), options),
        );
        assert.equal(error.retryable, retryable, code);
        assert.match(error.message, new RegExp(code));
      });
    }
  });

  test('an endpoint on loopback is refused unless the operator allows it', async () => {
    const port = new URL(s3.endpoint).port;
    for (const endpoint of [s3.endpoint, `http://localhost:${port}`]) {
      const error = await rejectionOf(
        sendS3({ ...settings, endpoint }, secrets, fileOf(Buffer.from('x')), context(), {
          outbound: { allowPrivate: [], timeoutMs: 5000 },
        }),
      );
      assert.equal(error.retryable, false);
      assert.match(error.message, /loopback address/);
    }
  });

  test('an unreachable endpoint is retryable', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await rejectionOf(
      sendS3(
        { ...settings, endpoint: `http://127.0.0.1:${port}` },
        secrets,
        fileOf(Buffer.from('x')),
        context(),
        options,
      ),
    );
    assert.equal(error.retryable, true);
    assert.match(error.message, /no answer from the store/);
  });

  test('the destination test puts and deletes a small object', async () => {
    const receipt = await testS3({ ...settings, prefix: 'probe/' }, secrets, options);
    assert.equal(receipt.details['deleted'], true);
    assert.match(String(receipt.details['key']), /^probe\/ferry-test-[0-9a-f]{8}\.txt$/);
    const left = await reader.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'probe/' }));
    assert.equal(left.KeyCount ?? 0, 0);
  });

  test('settings are checked before saving', () => {
    assert.doesNotThrow(() => checkS3Settings(settings));
    const invalid = (patch: Partial<S3DestinationSettings>, field: string) =>
      assert.throws(
        () => checkS3Settings({ ...settings, ...patch }),
        (err) => err instanceof Invalid && err.errors?.[0]?.path === field,
        JSON.stringify(patch),
      );
    invalid({ prefix: '/reports' }, 'prefix');
    invalid({ prefix: 'a/../b' }, 'prefix');
    invalid({ pathTemplate: '/{file}' }, 'pathTemplate');
    invalid({ pathTemplate: '{customer}/{file}' }, 'pathTemplate');
    invalid({ endpoint: 'ftp://store.example.test' }, 'endpoint');
    invalid({ endpoint: 'https://key:secret@store.example.test' }, 'endpoint');
    invalid({ bucket: 'Bad_Bucket!' }, 'bucket');
    invalid({ kmsKeyId: 'k1' }, 'kmsKeyId');
    invalid({ contentType: 'csv' }, 'contentType');
    assert.doesNotThrow(() =>
      checkS3Settings({ ...settings, serverSideEncryption: 'aws:kms', kmsKeyId: 'k1' }),
    );
  });
});
