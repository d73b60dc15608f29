import { createHash, createHmac, type Hmac, randomBytes } from 'node:crypto';
import { type Static, Type } from 'typebox';
import type { BodyInit } from 'undici';
import { Invalid } from '../lib/errors.ts';
import { offsetMs } from '../lib/zoned-time.ts';
import { checkUrl, type GuardOptions, httpFailure, readExcerpt, safeFetch } from './ssrf-guard.ts';
import {
  type DeliveryContext,
  DeliveryError,
  type DeliveryFile,
  type DeliveryReceipt,
  type OutboundPolicy,
} from './types.ts';

// Signed webhooks per the Standard Webhooks specification (standardwebhooks.com):
// `webhook-id` is the delivery's id (the same on every retry, so the receiver can
// drop duplicates), `webhook-timestamp` the Unix seconds of this attempt, and
// `webhook-signature` one `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per
// active secret, so a receiver holding either secret accepts the message while
// secrets rotate. Two modes: a JSON event describing the run, or the file itself.

export const webhookModes = ['event', 'file'] as const;
export type WebhookMode = (typeof webhookModes)[number];

// Headers Ferry sets itself or the HTTP layer owns: a custom header must not forge or break them.
const reservedHeader =
  /^(host|content-length|content-type|content-disposition|transfer-encoding|connection|webhook-.*|x-ferry-.*)$/i;

export const WebhookSettings = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'http(s) URL of the receiver; public hosts only',
    }),
    mode: Type.Enum(webhookModes, {
      description:
        '`event`: a signed JSON event (run.succeeded, run.failed) with a download link; `file`: the file itself as the body',
    }),
    headers: Type.Optional(
      Type.Record(
        Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$" }),
        Type.String({ maxLength: 2000, pattern: '^[^\\r\\n]*$' }),
        {
          maxProperties: 20,
          additionalProperties: false,
          description:
            'Extra request headers (not Host, Content-Length, Content-Type, webhook-* or x-ferry-*); shown to every reader',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type WebhookSettings = Static<typeof WebhookSettings>;

export const WebhookSecrets = Type.Object(
  {
    secrets: Type.Array(Type.String({ pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', maxLength: 100 }), {
      minItems: 1,
      maxItems: 2,
      description:
        'Signing secrets (`whsec_` + base64 of 24–64 bytes); two while rotating: each signs every message',
    }),
  },
  { additionalProperties: false },
);
export type WebhookSecrets = Static<typeof WebhookSecrets>;

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function secretKey(secret: string): Buffer | null {
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) return null;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return key.length >= 24 && key.length <= 64 ? key : null;
}

/** The checks a schema cannot make: reserved headers, secret lengths, and the URL against the outbound policy. */
export async function checkWebhookSettings(
  settings: WebhookSettings,
  secrets: WebhookSecrets,
  policy: OutboundPolicy,
): Promise<void> {
  for (const name of Object.keys(settings.headers ?? {})) {
    if (reservedHeader.test(name))
      throw Invalid.field(`settings.headers.${name}`, 'is set by Ferry and cannot be replaced');
  }
  for (const [index, secret] of secrets.secrets.entries()) {
    if (!secretKey(secret))
      throw Invalid.field(`secrets.secrets.${index}`, 'must be whsec_ followed by base64 of 24 to 64 bytes');
  }
  try {
    await checkUrl(settings.url, policy);
  } catch (err) {
    // A host that does not resolve right now may later; the delivery reports it then.
    if (err instanceof DeliveryError && !err.retryable) throw Invalid.field('settings.url', err.message);
    if (!(err instanceof DeliveryError)) throw err;
  }
}

/** `v1,<sig>` for each secret, space-separated, over "id.timestamp.body" with the body fed in pieces. */
async function sign(
  keys: Buffer[],
  id: string,
  timestamp: number,
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<{ signature: string; sha256: string; size: number }> {
  const macs: Hmac[] = keys.map((key) => createHmac('sha256', key).update(`${id}.${timestamp}.`));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    signal?.throwIfAborted();
    for (const mac of macs) mac.update(chunk);
    hash.update(chunk);
    size += chunk.byteLength;
  }
  const signature = macs.map((mac) => `v1,${mac.digest('base64')}`).join(' ');
  return { signature, sha256: hash.digest('hex'), size };
}

/** An ISO timestamp with the zone's offset: 2026-05-04T08:00:00+02:00. */
function localIso(instant: Date, timeZone: string): string {
  const offset = offsetMs(instant, timeZone);
  const local = new Date(instant.getTime() + offset).toISOString().slice(0, 19);
  const minutes = Math.abs(offset) / 60_000;
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `${local}${offset < 0 ? '-' : '+'}${hh}:${mm}`;
}

/** The event a receiver gets in `event` mode (and in `file` mode when the run failed and has no file). */
export function webhookEvent(file: DeliveryFile | null, ctx: DeliveryContext) {
  return {
    type: `run.${ctx.status}`,
    // When the run finished, not when this attempt is made: the body stays the same on every retry.
    timestamp: ctx.finishedAt.toISOString(),
    data: {
      runId: ctx.runId,
      status: ctx.status,
      report: ctx.reportName,
      schedule: ctx.scheduleId ? { id: ctx.scheduleId, name: ctx.scheduleName } : null,
      runAt: ctx.runAt.toISOString(),
      runAtLocal: localIso(ctx.runAt, ctx.timeZone),
      timeZone: ctx.timeZone,
      finishedAt: ctx.finishedAt.toISOString(),
      rowCount: ctx.rowCount,
      format: ctx.format,
      file: file
        ? { name: file.fileName, size: file.size, contentType: file.contentType, sha256: file.checksum }
        : null,
      link: ctx.link ? { url: ctx.link.url, expiresAt: ctx.link.expiresAt.toISOString() } : null,
      error: ctx.error,
      ...(ctx.recipient ? { recipient: ctx.recipient } : {}),
    },
  };
}

/** RFC 8187 ext-value (UTF-8''…): any file name, in header-safe ASCII. */
function extValue(name: string): string {
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `UTF-8''${encoded}`;
}

interface Payload {
  headers: Record<string, string>;
  body: () => BodyInit | Promise<BodyInit>;
  signature: string;
}

async function eventPayload(
  keys: Buffer[],
  file: DeliveryFile | null,
  ctx: DeliveryContext,
  ts: number,
): Promise<Payload> {
  const json = Buffer.from(JSON.stringify(webhookEvent(file, ctx)));
  const { signature } = await sign(keys, ctx.deliveryId, ts, [json], undefined);
  return { headers: { 'content-type': 'application/json' }, body: () => json, signature };
}

// The file is read twice, once to sign and once to send, so a large file never
// sits in memory. The first read also proves the bytes are the run's file.
async function filePayload(
  keys: Buffer[],
  file: DeliveryFile,
  ctx: DeliveryContext,
  ts: number,
  signal?: AbortSignal,
): Promise<Payload> {
  let signed: Awaited<ReturnType<typeof sign>>;
  try {
    signed = await sign(keys, ctx.deliveryId, ts, await file.open(), signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    // Storage that fails to read now (a network disk, S3) may read next time.
    throw new DeliveryError(`Cannot read the stored file ${file.fileName}`, { retryable: true, cause: err });
  }
  if (signed.sha256 !== file.checksum || signed.size !== file.size) {
    throw new DeliveryError(`The stored file ${file.fileName} does not match its checksum: not sent`, {
      retryable: false,
      details: { expected: file.checksum, actual: signed.sha256 },
    });
  }
  const headers = {
    'content-type': file.contentType,
    'content-length': String(file.size),
    'content-disposition': `attachment; filename*=${extValue(file.fileName)}`,
    'x-ferry-file-name': extValue(file.fileName),
    'x-ferry-checksum': `sha256=${file.checksum}`,
    'x-ferry-run-id': ctx.runId,
  };
  return { headers, body: () => file.open(), signature: signed.signature };
}

/**
 * POSTs one signed webhook. In `file` mode the body is the file's bytes; a
 * failed run (no file) sends its `run.failed` event instead, so the receiver
 * still learns of it. Resolves with the receipt on 2xx; throws DeliveryError
 * otherwise (410: the receiver asked to stop, permanent; 408/429/5xx: retryable).
 */
export async function sendWebhook(
  settings: WebhookSettings,
  secrets: readonly string[],
  file: DeliveryFile | null,
  ctx: DeliveryContext,
  options: GuardOptions,
): Promise<DeliveryReceipt> {
  const keys = secrets.map((secret, index) => {
    const key = secretKey(secret);
    if (!key)
      throw new DeliveryError(`Signing secret ${index + 1} is not a valid whsec_ secret`, {
        retryable: false,
      });
    return key;
  });
  if (keys.length === 0) throw new DeliveryError('The webhook has no signing secret', { retryable: false });
  const custom = Object.entries(settings.headers ?? {}).filter(([name]) => !reservedHeader.test(name));
  const timestamp = Math.floor(Date.now() / 1000);
  const payload =
    settings.mode === 'file' && file
      ? await filePayload(keys, file, ctx, timestamp, options.signal)
      : await eventPayload(keys, file, ctx, timestamp);
  const headers = {
    'user-agent': 'Ferry-Webhooks/1',
    ...Object.fromEntries(custom),
    ...payload.headers,
    'webhook-id': ctx.deliveryId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': payload.signature,
  };
  const response = await safeFetch(settings.url, { method: 'POST', headers, body: payload.body }, options);
  const excerpt = await readExcerpt(response);
  const host = new URL(response.url || settings.url).host;
  if (response.ok) {
    return {
      summary: `HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}`,
      details: { status: response.status, body: excerpt, webhookId: ctx.deliveryId, mode: settings.mode },
    };
  }
  if (response.status === 410) {
    throw new DeliveryError(
      `${host} answered HTTP 410 Gone: the receiver asked not to be sent webhooks any more`,
      {
        retryable: false,
        details: { status: 410, body: excerpt, gone: true },
      },
    );
  }
  throw httpFailure(response, excerpt, host);
}
