import type { Readable } from 'node:stream';

// What every delivery channel (email, Slack, webhook, S3, SFTP, Teams) is given
// and gives back. A channel knows nothing of Ferry's database: the deliveries
// module hands it the destination's settings (secrets already decrypted), the
// run's file and what the run was, and records the receipt or the error.

/** The run's file, opened afresh for each attempt (a retry reads it again from storage). */
export interface DeliveryFile {
  fileName: string;
  contentType: string;
  /** Bytes. */
  size: number;
  /** sha256 of the bytes, lowercase hex. */
  checksum: string;
  open(): Promise<Readable>;
}

/** What the run was, for subjects, messages, paths and event bodies. */
export interface DeliveryContext {
  tenantName: string;
  runId: string;
  /** The run's outcome as delivered: a file (`succeeded`), or a notice that it failed. */
  status: 'succeeded' | 'failed';
  error: string | null;
  reportName: string;
  scheduleName: string | null;
  scheduleId: string | null;
  /** The instant the run stands for (the schedule's occurrence, or when it was asked for). */
  runAt: Date;
  finishedAt: Date;
  /** The schedule's (or the export's) IANA zone: dates in messages and paths are local to it. */
  timeZone: string;
  rowCount: number;
  format: string;
  /** A signed download link to the file, when the run has one. */
  link: { url: string; expiresAt: Date } | null;
  /** The delivery's id: the same on every attempt (webhook-id, idempotency on the peer). */
  deliveryId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** A burst recipient's run: the address it is for (its e-mail goes there alone). */
  recipient?: string | null;
}

/** What the peer answered, kept on the delivery and shown on the run. */
export interface DeliveryReceipt {
  /** One line for people: "250 OK: queued as 4Z…", "HTTP 204", "s3://bucket/key (ETag …)". */
  summary: string;
  /** Machine-readable answer: messageId, accepted/rejected recipients, status, key, etag, path … */
  details: Record<string, unknown>;
}

/**
 * Why a delivery failed. `retryable` says whether the same request may succeed
 * later (a timeout, 429, 5xx, a dropped connection) or never will (a bad address,
 * 4xx, wrong credentials, a changed host key, a refused address).
 */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  /** The peer asked to wait this long (Retry-After). */
  readonly retryAfterMs: number | undefined;
  /** What the peer answered, when it answered (HTTP status, SMTP reply …). */
  readonly details: Record<string, unknown>;
  constructor(
    message: string,
    options: {
      retryable: boolean;
      retryAfterMs?: number | undefined;
      details?: Record<string, unknown>;
      cause?: unknown;
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
  }
}

/** Outbound network rules for channels that connect to user-given hosts. */
export interface OutboundPolicy {
  /**
   * Hosts or addresses (exact host names, IP literals or CIDR ranges) the operator
   * allows even though they are private, loopback or link-local. Empty by default.
   */
  allowPrivate: readonly string[];
  /** Per-request time limit, ms. */
  timeoutMs: number;
}

export interface SendOptions {
  signal?: AbortSignal | undefined;
  outbound: OutboundPolicy;
}
