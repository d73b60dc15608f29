import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { multipartUploads } from './s3-uploads.ts';

// A real S3-compatible server on localhost (s3rver, files in a temp folder), so
// storage tests speak the S3 protocol, multipart uploads included.

export interface S3Peer {
  endpoint: string;
  bucket: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startS3(bucket = 'ferry-exports'): Promise<S3Peer> {
  const directory = await mkdtemp(join(tmpdir(), 'ferry-s3-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  // Before s3rver's router, the last of its middleware.
  server.middleware.splice(server.middleware.length - 1, 0, multipartUploads(directory));
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket,
    env: {
      FERRY_STORAGE: 's3',
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_PREFIX: 'exports',
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
