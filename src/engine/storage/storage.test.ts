import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { type S3Peer, startS3 } from '../../../test/helpers/s3.ts';
import { waitFor } from '../../../test/helpers/time.ts';
import { createLocalStorage } from './local.ts';
import { createS3Storage } from './s3.ts';
import type { Storage } from './storage.ts';

// removeAttempt: what an attempt declared lost wrote goes at once, its unfinished
// write (a .part file, a multipart upload) and a file it committed but never
// published; nothing of another attempt, and never more than one attempt's prefix.

const tenant = '0190a0a0-0000-7000-8000-000000000001';
const run = '0190a0a0-0000-7000-8000-000000000002';
// Over S3's 8 MB part size, so the upload is a real multipart upload with a part up.
const big = Buffer.alloc(9 * 1024 * 1024, 'x');

/** Starts a write and waits until its first bytes are stored, without finishing it. */
async function unfinished(storage: Storage, key: string, settled: () => Promise<boolean>) {
  const writer = await storage.writer(key, 'text/csv');
  writer.stream.write(big);
  await waitFor('the write to reach the storage', settled);
  return writer;
}

async function committed(storage: Storage, key: string) {
  const writer = await storage.writer(key, 'text/csv');
  writer.stream.end('a,b\r\n');
  await writer.commit();
}

describe('removing a lost attempt’s files', () => {
  let dir: string;
  let s3: S3Peer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-storage-'));
    s3 = await startS3();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await s3.close();
  });

  test('local: the .part file and any committed file of that attempt, nothing of the next', async () => {
    const storage = createLocalStorage(dir);
    const parts = async () => readdir(join(dir, '.tmp')).catch(() => [] as string[]);
    const writer = await unfinished(storage, `${tenant}/${run}/1/out.csv`, async () =>
      (await parts()).some((f) => f.startsWith(`${run}-1-`)),
    );
    await committed(storage, `${tenant}/${run}/1/early.csv`);
    await committed(storage, `${tenant}/${run}/2/out.csv`);
    const next = await storage.writer(`${tenant}/${run}/2/next.csv`, 'text/csv');

    assert.equal(await storage.removeAttempt(`${tenant}/${run}/1/`), 2);
    assert.deepEqual(
      (await parts()).filter((f) => f.startsWith(`${run}-1-`)),
      [],
    );
    assert.equal(await storage.size(`${tenant}/${run}/1/early.csv`), null);
    assert.equal(await storage.size(`${tenant}/${run}/2/out.csv`), 5, 'another attempt’s file stays');
    assert.equal((await parts()).filter((f) => f.startsWith(`${run}-2-`)).length, 1);
    await writer.abort();
    await next.abort();
  });

  test('S3: the multipart upload (aborted) and any committed object of that attempt, nothing of the next', async () => {
    const storage = createS3Storage({
      bucket: s3.bucket,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      prefix: 'exports/',
    });
    const uploads = async (prefix: string) =>
      (
        await storage.client.send(
          new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `exports/${prefix}` }),
        )
      ).Uploads ?? [];
    try {
      const writer = await unfinished(
        storage,
        `${tenant}/${run}/1/out.csv`,
        async () => (await uploads(`${tenant}/${run}/1/`)).length > 0,
      );
      await committed(storage, `${tenant}/${run}/1/early.csv`);
      await committed(storage, `${tenant}/${run}/2/out.csv`);

      assert.equal(await storage.removeAttempt(`${tenant}/${run}/1/`), 2);
      assert.deepEqual(await uploads(`${tenant}/${run}/1/`), []);
      assert.equal(await storage.size(`${tenant}/${run}/1/early.csv`), null);
      assert.equal(await storage.size(`${tenant}/${run}/2/out.csv`), 5, 'another attempt’s file stays');
      // The writer of the lost attempt finds its upload gone: it fails, it never publishes.
      writer.stream.end();
      await assert.rejects(writer.commit());
      await writer.abort();
    } finally {
      storage.client.destroy();
    }
  });

  test('never more than one attempt: a shorter or malformed prefix is refused', async () => {
    const storage = createLocalStorage(dir);
    for (const prefix of ['', `${tenant}/`, `${tenant}/${run}/`, `${tenant}/${run}/1`, `../${run}/1/`])
      await assert.rejects(storage.removeAttempt(prefix), /Not an attempt's key prefix/);
  });
});
