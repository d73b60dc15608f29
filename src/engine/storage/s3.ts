import { PassThrough, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertAttemptPrefix, type Storage } from './storage.ts';

// S3 or any S3-compatible store. Files stream up as a multipart upload; the
// object exists only once the upload completes, and an aborted upload leaves no
// object (its parts are discarded).

export interface S3StorageOptions {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  prefix: string;
  serverSideEncryption?: ServerSideEncryption | undefined;
}

const PART_SIZE = 8 * 1024 * 1024;

export function createS3Storage(o: S3StorageOptions): Storage & { client: S3Client } {
  const client = new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle,
    ...(o.accessKeyId && o.secretAccessKey
      ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } }
      : {}),
  });
  const objectKey = (key: string) => `${o.prefix}${key}`;
  /** Pages of the objects under a (full) key prefix. */
  async function* objectsUnder(prefix: string) {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: o.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      yield page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  /** Multipart uploads under a (full) key prefix that were started and never completed or aborted. */
  async function* unfinishedUploads(prefix: string) {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: o.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const u of page.Uploads ?? [])
        if (u.Key && u.UploadId) yield { ...u, Key: u.Key, UploadId: u.UploadId };
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
  }
  // Aborting discards the parts, which otherwise cost storage until a lifecycle rule removes them.
  // An upload gone meanwhile (its writer gave up, another process swept it) is what was wanted: not an error.
  const abortUpload = (u: { Key: string; UploadId: string }) =>
    client
      .send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: u.Key, UploadId: u.UploadId }))
      .catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
      });
  return {
    kind: 's3',
    client,
    async writer(key, contentType) {
      const body = new PassThrough({ highWaterMark: PART_SIZE });
      const upload = new Upload({
        client,
        queueSize: 2,
        partSize: PART_SIZE,
        leavePartsOnError: false,
        params: {
          Bucket: o.bucket,
          Key: objectKey(key),
          Body: body,
          ContentType: contentType,
          ...(o.serverSideEncryption ? { ServerSideEncryption: o.serverSideEncryption } : {}),
        },
      });
      const done = upload.done();
      // Observed here so a failed upload never becomes an unhandled rejection; commit reports it.
      done.catch(() => {});
      return {
        stream: body,
        async commit() {
          await done;
        },
        async abort() {
          body.destroy();
          await upload.abort().catch(() => {});
          await done.catch(() => {});
        },
      };
    },
    async size(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: objectKey(key) }));
        return head.ContentLength ?? null;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
          return null;
        throw err;
      }
    },
    async read(key, range) {
      const r = await client.send(
        new GetObjectCommand({
          Bucket: o.bucket,
          Key: objectKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      return r.Body as Readable;
    },
    async *listCommitted(olderThanMs) {
      const cutoff = Date.now() - olderThanMs;
      for await (const contents of objectsUnder(o.prefix)) {
        const keys = contents
          .filter((c) => c.Key && c.LastModified && c.LastModified.getTime() < cutoff)
          .map((c) => c.Key!.slice(o.prefix.length));
        if (keys.length > 0) yield keys;
      }
    },
    async sweepUnfinished(olderThanMs) {
      // Multipart uploads a killed worker never completed, once no attempt can still be writing them.
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      for await (const u of unfinishedUploads(o.prefix)) {
        if (u.Initiated && u.Initiated.getTime() < cutoff) {
          await abortUpload(u);
          removed++;
        }
      }
      return removed;
    },
    async removeAttempt(prefix) {
      assertAttemptPrefix(prefix);
      let removed = 0;
      for await (const u of unfinishedUploads(objectKey(prefix))) {
        await abortUpload(u);
        removed++;
      }
      for await (const contents of objectsUnder(objectKey(prefix))) {
        for (const c of contents) {
          if (!c.Key) continue;
          await client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: c.Key }));
          removed++;
        }
      }
      return removed;
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: objectKey(key) }));
    },
  };
}
