import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse/sync';
import { cleanupArtifacts, removeOrphanFiles } from '../../src/modules/artifacts/service.ts';
import {
  call,
  createTestApp,
  reportFromTemplate,
  setupFirstTenant,
  type TenantHandle,
  type TestApp,
} from '../helpers/app.ts';
import { backends } from '../helpers/db.ts';
import { CREATE_PACED_FUNCTION, pacedSql } from '../helpers/paced.ts';
import { waitForRun } from '../helpers/runs.ts';
import { type S3Peer, startS3 } from '../helpers/s3.ts';

for (const backend of backends()) {
  describe(`exports to S3-compatible storage (${backend})`, () => {
    let s3: S3Peer;
    let t: TestApp;
    let owner: TenantHandle;
    let client: S3Client;
    before(async () => {
      s3 = await startS3();
      t = await createTestApp(backend, { roles: ['api', 'worker'], env: s3.env });
      owner = await setupFirstTenant(t);
      client = new S3Client({
        region: 'us-east-1',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
    });
    after(async () => {
      await t.close();
      await s3.close();
    });

    const objects = async () =>
      ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((o) => ({
        key: o.Key!,
        size: o.Size!,
      }));

    test('the file streams up as a multipart upload, downloads back byte for byte (Range too), and goes when the run is deleted', async () => {
      const report = await reportFromTemplate(t, owner.apiKey, 'sales-order-lines');
      const started = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: {
          reportId: report.body.id,
          format: 'csv',
          parameters: { from: '2020-01-01', to: '2030-01-01' },
        },
      });
      const run = await waitForRun(t, owner.apiKey, started.body.id);
      assert.equal(run.status, 'succeeded', run.error);
      const stored = await objects();
      assert.equal(stored.length, 1);
      assert.equal(stored[0]!.key, `exports/${owner.tenantId}/${run.id}/1/${run.fileName}`);
      assert.equal(stored[0]!.size, run.fileSize);
      const file = await t.app.inject({
        url: `/api/v1/runs/${run.id}/download`,
        headers: { authorization: `Bearer ${owner.apiKey}` },
      });
      assert.equal(file.statusCode, 200);
      assert.equal(file.rawPayload.length, run.fileSize);
      assert.equal((parseCsv(file.rawPayload.toString()) as unknown[]).length, run.rowCount + 1);
      const part = await t.app.inject({
        url: `/api/v1/runs/${run.id}/download`,
        headers: { authorization: `Bearer ${owner.apiKey}`, range: 'bytes=10-29' },
      });
      assert.equal(part.statusCode, 206);
      assert.deepEqual(part.rawPayload, file.rawPayload.subarray(10, 30));
      assert.equal(
        (await call(t, { method: 'DELETE', url: `/api/v1/runs/${run.id}`, key: owner.apiKey })).status,
        204,
      );
      assert.deepEqual(await objects(), []);
    });

    test('a cancelled export leaves no object in the bucket', async () => {
      const demo = (await call(t, { url: '/api/v1/connections', key: owner.apiKey })).body.items[0].id;
      await t.ctx.db.exec(CREATE_PACED_FUNCTION);
      const slow = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: { name: 'Slow', connectionId: demo, sql: pacedSql(10) },
      });
      const started = await call(t, {
        method: 'POST',
        url: '/api/v1/exports',
        key: owner.apiKey,
        body: { reportId: slow.body.id, format: 'csv' },
      });
      // Mid-way, with a multipart upload begun: past the first 8 MB part (PART_SIZE in
      // src/engine/storage/s3.ts).
      await waitForRun(
        t,
        owner.apiKey,
        started.body.id,
        (r) => r.status === 'running' && r.progress.bytes > 9 * 1024 * 1024,
      );
      await call(t, { method: 'POST', url: `/api/v1/runs/${started.body.id}/cancel`, key: owner.apiKey });
      const run = await waitForRun(t, owner.apiKey, started.body.id);
      assert.equal(run.status, 'cancelled');
      assert.deepEqual(await objects(), []);
      // The cleanup job also tries to abort abandoned multipart uploads; a store that cannot
      // list them (this test server) gets a warning, not a failed job.
      assert.equal(await cleanupArtifacts(t.ctx), 0);
    });

    test('S5: an object no artifact points at is swept from the bucket; live files and foreign objects stay', async () => {
      const demo = (await call(t, { url: '/api/v1/connections', key: owner.apiKey })).body.items[0].id;
      const report = await call(t, {
        method: 'POST',
        url: '/api/v1/reports',
        key: owner.apiKey,
        body: { name: 'Tiny', connectionId: demo, sql: 'SELECT 1 AS one' },
      });
      const run = await waitForRun(
        t,
        owner.apiKey,
        (
          await call(t, {
            method: 'POST',
            url: '/api/v1/exports',
            key: owner.apiKey,
            body: { reportId: report.body.id, format: 'csv' },
          })
        ).body.id,
      );
      assert.equal(run.status, 'succeeded');
      const orphanKey = `${owner.tenantId}/00000000-0000-4000-8000-000000000000/1/crashed.csv`;
      await client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `exports/${orphanKey}`, Body: 'id\n1\n' }),
      );
      await client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: 'exports/not-ferry/keep.txt', Body: 'x' }),
      );
      // Everything counts as old enough here (age 0): only the artifact rows and the key shape decide.
      assert.equal(await removeOrphanFiles(t.ctx, -60_000), 1);
      const keys = (await objects()).map((o) => o.key);
      assert.ok(!keys.includes(`exports/${orphanKey}`), keys.join());
      assert.ok(keys.includes('exports/not-ferry/keep.txt'));
      assert.equal(keys.filter((k) => k.includes(run.id)).length, 1, 'the live file stays');
    });
  });
}
