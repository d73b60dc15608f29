import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { type Static, Type } from 'typebox';
import { Invalid } from '../lib/errors.ts';
import { checkedLookup, resolveCheckedHost } from './host-check.ts';
import {
  checkPathTemplate,
  DEFAULT_PATH_TEMPLATE,
  PathTemplateError,
  pathValuesFor,
  renderPathTemplate,
} from './path-template.ts';
import {
  type DeliveryContext,
  DeliveryError,
  type DeliveryFile,
  type DeliveryReceipt,
  type SendOptions,
} from './types.ts';

// A tenant's own S3 bucket (AWS or any S3-compatible store). The file streams
// up as a multipart upload (8 MB parts, two in flight: 16 MB of memory at most)
// and the object appears only when the upload completes; a failed upload is
// aborted so no parts are left behind. The file's sha256 travels as object
// metadata (x-amz-meta-sha256) for the receiver to check.
//
// Credentials are required: an empty set would make the SDK fall back to the
// Ferry host's own (instance role, environment), and a tenant must never
// reach buckets through Ferry's identity.

const PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const MAX_KEY_BYTES = 1024;
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const CONTENT_TYPE =
  /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9_.-]+=("[^"\r\n]*"|[A-Za-z0-9_.-]+))*$/;

export const serverSideEncryptions = ['none', 'AES256', 'aws:kms'] as const;

export const S3DestinationSettingsSchema = Type.Object(
  {
    bucket: Type.String({ minLength: 3, maxLength: 63 }),
    region: Type.Optional(
      Type.String({ minLength: 1, maxLength: 50, description: 'e.g. eu-central-1 (default us-east-1)' }),
    ),
    endpoint: Type.Optional(
      Type.String({
        maxLength: 500,
        description: 'URL of an S3-compatible store (https://s3.example.com); leave out for AWS',
      }),
    ),
    forcePathStyle: Type.Optional(
      Type.Boolean({ description: 'Address the bucket in the path; default: yes with a custom endpoint' }),
    ),
    prefix: Type.Optional(
      Type.String({ maxLength: 500, description: 'Folder in the bucket, e.g. reports/ (default: the top)' }),
    ),
    pathTemplate: Type.Optional(
      Type.String({
        maxLength: 500,
        description: 'Key under the prefix, e.g. {schedule}/{date:yyyy/MM/dd}/{file} (default {file})',
      }),
    ),
    accessKeyId: Type.String({ minLength: 1, maxLength: 200 }),
    serverSideEncryption: Type.Optional(Type.Enum(serverSideEncryptions, { description: 'Default none' })),
    kmsKeyId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        description: 'With aws:kms: the key id or ARN (default the aws/s3 key)',
      }),
    ),
    contentType: Type.Optional(
      Type.String({
        maxLength: 200,
        description: "The object's Content-Type (default: the file's, e.g. text/csv)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type S3DestinationSettings = Static<typeof S3DestinationSettingsSchema>;

/** Write-only fields, sealed at rest. */
export const s3SecretFields = [
  { name: 'secretAccessKey', required: true, description: 'Secret access key' },
] as const;
export interface S3Secrets {
  secretAccessKey: string;
}

function prefixProblem(prefix: string): string | null {
  if (prefix.startsWith('/')) return 'must not start with / (S3 keys do not)';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
  if (/[\u0000-\u001f\u007f\\]/.test(prefix)) return 'must not contain control characters or \\';
  if (prefix.split('/').some((s) => s === '.' || s === '..')) return 'must not contain . or .. as a folder';
  if (prefix.includes('//')) return 'must not contain an empty folder (//)';
  return null;
}

function endpointProblem(endpoint: string): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'is not a valid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not hold credentials: use the access key fields';
  if (url.search || url.hash) return 'must not have a query or fragment';
  return null;
}

/** Rules beyond the schema, for saving a destination. */
export function checkS3Settings(settings: S3DestinationSettings): void {
  if (!BUCKET.test(settings.bucket))
    throw Invalid.field('bucket', 'must be 3–63 lowercase letters, digits, dots, hyphens or underscores');
  const endpoint = settings.endpoint === undefined ? null : endpointProblem(settings.endpoint);
  if (endpoint) throw Invalid.field('endpoint', endpoint);
  const prefix = prefixProblem(settings.prefix ?? '');
  if (prefix) throw Invalid.field('prefix', prefix);
  try {
    checkPathTemplate(settings.pathTemplate ?? DEFAULT_PATH_TEMPLATE);
  } catch (err) {
    if (err instanceof PathTemplateError) throw Invalid.field('pathTemplate', err.message);
    throw err;
  }
  if (settings.kmsKeyId && settings.serverSideEncryption !== 'aws:kms')
    throw Invalid.field('kmsKeyId', 'is used only with serverSideEncryption aws:kms');
  if (settings.contentType !== undefined && !CONTENT_TYPE.test(settings.contentType))
    throw Invalid.field('contentType', 'must be a media type such as text/csv or application/octet-stream');
}

/** The object's key: the prefix as a folder, then the rendered template. */
export function objectKeyFor(
  settings: S3DestinationSettings,
  file: DeliveryFile,
  ctx: DeliveryContext,
): string {
  const problem = prefixProblem(settings.prefix ?? '');
  if (problem) throw new DeliveryError(`S3 prefix ${problem}`, { retryable: false });
  let relative: string;
  try {
    relative = renderPathTemplate(settings.pathTemplate ?? DEFAULT_PATH_TEMPLATE, pathValuesFor(file, ctx));
  } catch (err) {
    if (err instanceof PathTemplateError)
      throw new DeliveryError(`S3 path template ${err.message}`, { retryable: false, cause: err });
    throw err;
  }
  const prefix = settings.prefix ?? '';
  const key = prefix === '' || prefix.endsWith('/') ? `${prefix}${relative}` : `${prefix}/${relative}`;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw new DeliveryError(`S3 key is longer than ${MAX_KEY_BYTES} bytes: ${key.slice(0, 100)}…`, {
      retryable: false,
    });
  return key;
}

/**
 * A client for the destination. A custom endpoint is the tenant's host: it is
 * checked before use, and its sockets connect only to checked addresses.
 */
async function createClient(
  settings: S3DestinationSettings,
  secrets: S3Secrets,
  options: SendOptions,
): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const config: S3ClientConfig = {
    region: settings.region ?? 'us-east-1',
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: secrets.secretAccessKey },
    forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined,
  };
  if (settings.endpoint === undefined) {
    config.followRegionRedirects = true;
    config.requestHandler = {
      connectionTimeout: options.outbound.timeoutMs,
      socketTimeout: options.outbound.timeoutMs,
    };
  } else {
    const problem = endpointProblem(settings.endpoint);
    if (problem) throw new DeliveryError(`S3 endpoint ${problem}`, { retryable: false });
    await resolveCheckedHost(new URL(settings.endpoint).hostname, options.outbound);
    const lookup = checkedLookup(options.outbound);
    config.endpoint = settings.endpoint;
    // Many S3-compatible stores refuse the CRC32 checksums the SDK adds by default.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
    config.requestHandler = {
      connectionTimeout: options.outbound.timeoutMs,
      socketTimeout: options.outbound.timeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true, lookup }),
      httpsAgent: new HttpsAgent({ keepAlive: true, lookup }),
    };
  }
  return new S3Client(config);
}

const permanentCodes: Record<string, string> = {
  AccessDenied: 'access denied: the access key may not write to this bucket and key (s3:PutObject)',
  NoSuchBucket: 'the bucket does not exist',
  InvalidAccessKeyId: 'the access key id is not known to the store',
  SignatureDoesNotMatch: 'the secret access key does not match the access key id',
  InvalidBucketName: 'the bucket name is not valid',
  PermanentRedirect: 'the bucket is in another region or behind another endpoint',
  AuthorizationHeaderMalformed: 'the region does not match the bucket',
  KMSAccessDenied: 'the access key may not use the KMS key',
  'KMS.NotFoundException': 'the KMS key was not found',
};
const retryableCodes = new Set([
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeTooSkewed',
]);

/** What the SDK throws, as a DeliveryError: store answers by code and status, network failures retryable. */
export function classifyS3Error(err: unknown, bucket: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e.Code ?? e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const details = { bucket, code, status: status ?? null };
  const advice = permanentCodes[code];
  if (advice)
    return new DeliveryError(`S3 bucket ${bucket}: ${code}: ${advice}`, {
      retryable: false,
      details,
      cause: err,
    });
  if (status === undefined) {
    // No answer from the store: the connection failed, dropped or timed out, or reading the file from storage failed.
    return new DeliveryError(`S3 bucket ${bucket}: no answer from the store (${e.message ?? code})`, {
      retryable: true,
      details,
      cause: err,
    });
  }
  const retryable = retryableCodes.has(code) || status >= 500 || status === 429 || status === 408;
  return new DeliveryError(
    `S3 bucket ${bucket}: ${code} (HTTP ${status})${e.message ? `: ${e.message}` : ''}`,
    {
      retryable,
      details,
      cause: err,
    },
  );
}

function encryptionOf(settings: S3DestinationSettings) {
  if (settings.serverSideEncryption === 'AES256') return { ServerSideEncryption: 'AES256' as const };
  if (settings.serverSideEncryption === 'aws:kms')
    return {
      ServerSideEncryption: 'aws:kms' as const,
      ...(settings.kmsKeyId ? { SSEKMSKeyId: settings.kmsKeyId } : {}),
    };
  return {};
}

/** attachment; filename="ascii fallback"; filename*=UTF-8''… (the header must be Latin-1). */
function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

async function withClient<T>(
  settings: S3DestinationSettings,
  secrets: S3Secrets,
  options: SendOptions,
  work: (client: S3Client) => Promise<T>,
): Promise<T> {
  const client = await createClient(settings, secrets, options);
  try {
    return await work(client);
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    throw classifyS3Error(err, settings.bucket);
  } finally {
    client.destroy();
  }
}

/** Uploads the run's file to the bucket as prefix + path template. */
export async function sendS3(
  settings: S3DestinationSettings,
  secrets: S3Secrets,
  file: DeliveryFile,
  ctx: DeliveryContext,
  options: SendOptions,
): Promise<DeliveryReceipt> {
  if (ctx.status === 'failed')
    throw new DeliveryError('The run failed: there is no file to upload to S3', { retryable: false });
  const key = objectKeyFor(settings, file, ctx);
  const { Upload } = await import('@aws-sdk/lib-storage');
  const result = await withClient(settings, secrets, options, async (client) => {
    const body = await file.open();
    const upload = new Upload({
      client,
      // 10,000 parts at most: a file over 80 GB needs larger parts.
      partSize: Math.max(PART_SIZE, Math.ceil(file.size / MAX_PARTS)),
      queueSize: 2,
      leavePartsOnError: false,
      params: {
        Bucket: settings.bucket,
        Key: key,
        Body: body,
        ContentType: settings.contentType ?? file.contentType,
        ContentDisposition: contentDisposition(file.fileName),
        Metadata: { sha256: file.checksum },
        ...encryptionOf(settings),
      },
    });
    const onAbort = () => void upload.abort().catch(() => {});
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await upload.done();
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      body.destroy();
    }
  });
  const etag = result.ETag ?? null;
  const versionId = result.VersionId ?? null;
  return {
    summary: `s3://${settings.bucket}/${key}${etag ? ` (ETag ${etag})` : ''}`,
    details: { bucket: settings.bucket, key, etag, versionId, bytes: file.size },
  };
}

/** Writes a small test object under the prefix and deletes it again. */
export async function testS3(
  settings: S3DestinationSettings,
  secrets: S3Secrets,
  options: SendOptions,
): Promise<DeliveryReceipt> {
  const problem = prefixProblem(settings.prefix ?? '');
  if (problem) throw new DeliveryError(`S3 prefix ${problem}`, { retryable: false });
  const prefix = settings.prefix ?? '';
  const key = `${prefix}${prefix === '' || prefix.endsWith('/') ? '' : '/'}ferry-test-${randomBytes(4).toString('hex')}.txt`;
  const { PutObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  return withClient(settings, secrets, options, async (client) => {
    await client.send(
      new PutObjectCommand({
        Bucket: settings.bucket,
        Key: key,
        Body: 'Ferry connection test: this object is deleted right away.\n',
        ContentType: 'text/plain; charset=utf-8',
        ...encryptionOf(settings),
      }),
    );
    try {
      await client.send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: key }));
    } catch (err) {
      // A drop bucket may allow writing only: the test still proved what deliveries need.
      const failure = classifyS3Error(err, settings.bucket);
      return {
        summary: `Wrote s3://${settings.bucket}/${key}, but could not delete it (${failure.message}): remove it by hand`,
        details: { bucket: settings.bucket, key, deleted: false },
      };
    }
    return {
      summary: `Wrote and deleted s3://${settings.bucket}/${key}`,
      details: { bucket: settings.bucket, key, deleted: true },
    };
  });
}
