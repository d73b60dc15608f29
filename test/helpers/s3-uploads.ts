import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

// s3rver stores multipart uploads (one folder per upload id, holding its key and
// parts) but answers ListMultipartUploads and AbortMultipartUpload with
// NotImplemented, and accepts parts for an upload that is gone. These are S3's
// answers to them, over s3rver's own upload folders, so tests can see uploads
// that were left behind and Ferry's clean-up can remove them as on AWS.

interface Ctx {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

const xml = (s: string) =>
  s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );

/** A Koa middleware for an s3rver whose files are in `directory`; it goes before s3rver's router. */
export function multipartUploads(directory: string) {
  const uploadsOf = (bucket: string) => join(directory, bucket, '._S3rver_uploads');
  const exists = (bucket: string, id: string) =>
    stat(join(uploadsOf(bucket), id, 'key')).then(
      () => true,
      () => false,
    );
  const noSuchUpload = (ctx: Ctx, id: string) => {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${xml(id)}</UploadId></Error>`;
  };
  return async (ctx: Ctx, next: () => Promise<void>) => {
    const bucketOnly = /^\/([^/]+)\/?$/.exec(ctx.path);
    const object = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    const uploadId = typeof ctx.query['uploadId'] === 'string' ? ctx.query['uploadId'] : undefined;
    if (ctx.method === 'GET' && bucketOnly && 'uploads' in ctx.query) {
      const bucket = bucketOnly[1]!;
      const prefix = typeof ctx.query['prefix'] === 'string' ? ctx.query['prefix'] : '';
      const uploads: string[] = [];
      for (const id of await readdir(uploadsOf(bucket)).catch(() => [] as string[])) {
        const keyFile = join(uploadsOf(bucket), id, 'key');
        const [key, info] = await Promise.all([
          readFile(keyFile, 'utf8').catch(() => null),
          stat(keyFile).catch(() => null),
        ]);
        if (key === null || !info || !key.startsWith(prefix)) continue;
        uploads.push(
          `<Upload><Key>${xml(key)}</Key><UploadId>${xml(id)}</UploadId><Initiated>${info.mtime.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
        );
      }
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xml(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xml(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
      return;
    }
    if (object && uploadId !== undefined) {
      const bucket = object[1]!;
      if (!(await exists(bucket, uploadId))) return noSuchUpload(ctx, uploadId);
      if (ctx.method === 'DELETE') {
        await rm(join(uploadsOf(bucket), uploadId), { recursive: true, force: true });
        ctx.status = 204;
        ctx.body = null;
        return;
      }
    }
    await next();
  };
}
