import { randomInt } from 'node:crypto';
import type { Tx } from '../../db/db.ts';
import { type DeliveryContext, DeliveryError, type DeliveryFile } from '../../delivery/types.ts';
import { AppError, Conflict, describeError, NotFound } from '../../lib/errors.ts';
import { newId, stableId } from '../../lib/ids.ts';
import { getArtifactForRun } from '../artifacts/repo.ts';
import { recordAnonymousAudit, recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import type { DestinationType, Settings } from '../destinations/channel.ts';
import { channels } from '../destinations/channels.ts';
import { getDestination, getDestinations } from '../destinations/repo.ts';
import { channelEnv, checkRecipients, openDestination } from '../destinations/service.ts';
import type { RunOutcomeListener } from '../runs/lifecycle.ts';
import { signLink } from '../runs/links.ts';
import { getRunById, type RunRow } from '../runs/repo.ts';
import { getSchedule } from '../schedules/repo.ts';
import { getTenant } from '../tenants/repo.ts';
import {
  claimDelivery,
  completeDelivery,
  type DeliveryRow,
  failDeliveryAttempt,
  getDelivery,
  heartbeatDelivery,
  insertDeliveries,
  requeueFailedDelivery,
  staleDeliveries,
} from './repo.ts';

// A run's file is made once; each destination then gets it on its own: a
// `delivery.send` job per run × destination, with its own attempts, backoff with
// jitter, the peer's answer and the error. A failed delivery never changes the
// run's status and is retried without making the file again.

export interface DeliveryJob {
  deliveryId: string;
  attempt: number;
}

const MAX_ATTEMPTS = 5;
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_CAP_MS = 30 * 60_000;
/** How long a link in a message stays valid (never beyond the file's own expiry). */
const LINK_TTL_MS = 7 * 86_400_000;
/** A sending delivery heartbeats this often; one silent for STALE_SECONDS lost its worker. */
const HEARTBEAT_MS = 10_000;
export const STALE_SECONDS = 120;
/** One attempt may take this long in all (a large upload), on top of each request's own limit. */
const ATTEMPT_LIMIT_MS = 30 * 60_000;

/** Full-jitter exponential backoff, at least what the peer asked for (Retry-After). */
export function deliveryRetryDelayMs(attempt: number, retryAfterMs?: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.max(retryAfterMs ?? 0, 1_000, randomInt(0, ceiling + 1));
}

const jobOf = (deliveryId: string, attempt: number, startAfter?: Date) => ({
  data: { deliveryId, attempt } satisfies DeliveryJob,
  options: { id: stableId(`delivery:${deliveryId}:${attempt}`), ...(startAfter ? { startAfter } : {}) },
});

async function enqueue(deps: Pick<Deps, 'queue'>, tx: Tx, deliveryId: string, attempt: number, at?: Date) {
  const { data, options } = jobOf(deliveryId, attempt, at);
  await deps.queue.send('delivery.send', data, options, tx);
}

/**
 * Wired in app/context.ts: when a run with destinations ends, its deliveries are
 * created and queued in the same transaction. A file goes to every destination;
 * a failed run is told only to destinations that can carry a notice (webhook
 * events, Slack, Teams).
 */
export const deliverRunOutcomes: RunOutcomeListener = async (deps, tx, outcome) => {
  if (outcome.status === 'skipped_condition') return;
  const ids = outcome.run.destination_ids;
  if (ids.length === 0) return;
  const destinations = (await getDestinations(tx, outcome.run.tenant_id, ids)).filter(
    (d) => outcome.status === 'succeeded' || channels[d.type as DestinationType].notifiesFailures(d.settings),
  );
  const now = deps.clock.now();
  const created = await insertDeliveries(
    tx,
    destinations.map((d) => ({
      id: newId(),
      tenantId: outcome.run.tenant_id,
      runId: outcome.run.id,
      destinationId: d.id,
      name: d.name,
      type: d.type,
      maxAttempts: MAX_ATTEMPTS,
      now,
    })),
  );
  for (const delivery of created) await enqueue(deps, tx, delivery.id, 1);
};

/** Why an attempt failed, and whether the same request may succeed later. */
function classify(err: unknown): {
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  details: Record<string, unknown>;
} {
  if (err instanceof DeliveryError)
    return {
      message: err.message,
      retryable: err.retryable,
      retryAfterMs: err.retryAfterMs,
      details: err.details,
    };
  if (err instanceof AppError)
    return {
      message: err.message,
      retryable: err.code === 'Retryable' || err.code === 'Unavailable',
      details: {},
    };
  const code = (err as { code?: string })?.code;
  if (code && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|ECONNABORTED|UND_ERR_.*)$/.test(code))
    return { message: describeError(err), retryable: true, details: { code } };
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError'))
    return { message: 'The delivery took too long and was stopped', retryable: true, details: {} };
  return { message: describeError(err), retryable: false, details: {} };
}

interface Prepared {
  run: RunRow;
  file: DeliveryFile | null;
  ctx: DeliveryContext;
}

/** The run's file and what the run was, for the channel; a Permanent error when there is nothing to deliver. */
async function prepare(deps: Deps, delivery: DeliveryRow): Promise<Prepared> {
  const run = await getRunById(deps.db, delivery.run_id);
  if (!run) throw new DeliveryError('The run was deleted', { retryable: false });
  const artifact =
    run.status === 'succeeded' ? await getArtifactForRun(deps.db, run.tenant_id, run.id) : undefined;
  const now = deps.clock.now();
  if (run.status === 'succeeded' && (!artifact || artifact.deleted_at || artifact.expires_at <= now))
    throw new DeliveryError('The file has expired and was deleted; run the report again', {
      retryable: false,
    });
  const [tenant, schedule] = await Promise.all([
    getTenant(deps.db, run.tenant_id),
    run.schedule_id ? getSchedule(deps.db, run.tenant_id, run.schedule_id) : undefined,
  ]);
  const file: DeliveryFile | null = artifact
    ? {
        fileName: artifact.file_name,
        contentType: artifact.content_type,
        size: Number(artifact.size),
        checksum: artifact.checksum,
        open: () => deps.storage.read(artifact.key),
      }
    : null;
  const linkExpires = artifact
    ? new Date(Math.min(now.getTime() + LINK_TTL_MS, artifact.expires_at.getTime()))
    : null;
  const link =
    artifact && linkExpires
      ? {
          url: `${deps.config.publicUrl}/d/${signLink(deps.secrets, { runId: run.id, tenantId: run.tenant_id, expiresAt: linkExpires })}`,
          expiresAt: linkExpires,
        }
      : null;
  return {
    run,
    file,
    ctx: {
      tenantName: tenant?.name ?? '',
      runId: run.id,
      status: run.status === 'succeeded' ? 'succeeded' : 'failed',
      error: run.status === 'succeeded' ? null : run.error,
      reportName: run.report_name,
      scheduleName: schedule?.name ?? null,
      scheduleId: run.schedule_id,
      runAt: run.scheduled_for ?? run.created_at,
      finishedAt: run.finished_at ?? now,
      timeZone: run.time_zone,
      rowCount: Number(run.row_count ?? 0),
      format: run.format,
      link,
      deliveryId: delivery.id,
      attempt: delivery.attempts,
      recipient: run.recipient,
    },
  };
}

/** The `delivery.send` job: one attempt of one delivery. */
export async function executeDelivery(deps: Deps, job: DeliveryJob): Promise<void> {
  const delivery = await claimDelivery(deps.db, job.deliveryId, job.attempt, deps.clock.now());
  if (!delivery) return;
  const beat = setInterval(() => {
    heartbeatDelivery(deps.db, delivery.id, delivery.attempts).catch((err) =>
      deps.log.warn({ err, deliveryId: delivery.id }, 'delivery heartbeat failed'),
    );
  }, HEARTBEAT_MS);
  const log = deps.log.child({ deliveryId: delivery.id, runId: delivery.run_id, attempt: delivery.attempts });
  let prepared: Prepared | undefined;
  try {
    if (!delivery.destination_id)
      throw new DeliveryError('The destination was deleted', { retryable: false });
    const row = await getDestination(deps.db, delivery.tenant_id, delivery.destination_id);
    if (!row) throw new DeliveryError('The destination was deleted', { retryable: false });
    prepared = await prepare(deps, delivery);
    const { channel, secrets, ...opened } = openDestination(deps, row);
    const settings = forRecipient(channel.type, opened.settings, prepared.run.recipient);
    // The tenant's allow-lists may have changed since the destination was saved.
    await checkRecipients(deps, delivery.tenant_id, channel, settings, secrets).catch((err: unknown) => {
      throw new DeliveryError(describeError(err), { retryable: false });
    });
    const receipt = await channel.send(
      settings,
      secrets,
      prepared.file,
      prepared.ctx,
      channelEnv(deps, AbortSignal.timeout(ATTEMPT_LIMIT_MS)),
    );
    await deps.db.transaction(async (tx) => {
      const done = await completeDelivery(tx, delivery.id, delivery.attempts, {
        receipt,
        fileName: prepared!.file?.fileName ?? null,
        checksum: prepared!.file?.checksum ?? null,
        now: deps.clock.now(),
      });
      if (done) await auditDelivery(deps, tx, done, channel.target(settings, secrets), receipt.summary);
    });
    log.info({ receipt: receipt.summary }, 'delivered');
  } catch (err) {
    const failure = classify(err);
    const retryAt =
      failure.retryable && delivery.attempts < delivery.max_attempts
        ? new Date(deps.clock.now().getTime() + deliveryRetryDelayMs(delivery.attempts, failure.retryAfterMs))
        : null;
    await deps.db.transaction(async (tx) => {
      const ended = await failDeliveryAttempt(tx, delivery.id, delivery.attempts, {
        error: failure.message.slice(0, 2000),
        details: failure.details,
        retryAt,
        now: deps.clock.now(),
      });
      if (!ended) return;
      if (retryAt) await enqueue(deps, tx, delivery.id, delivery.attempts + 1, retryAt);
      else await auditDelivery(deps, tx, ended, null, failure.message);
    });
    log.warn({ error: failure.message, retrying: retryAt !== null }, 'delivery attempt failed');
  } finally {
    clearInterval(beat);
  }
}

/**
 * A burst recipient's run is e-mailed to that recipient alone: its file holds
 * their rows, so the destination's own to, cc and bcc lists are not used. Other
 * channels deliver it like any run (its file name carries the recipient).
 */
function forRecipient(type: DestinationType, settings: Settings, recipient: string | null): Settings {
  if (recipient === null || type !== 'email') return settings;
  return { ...settings, to: [recipient], cc: [], bcc: [] };
}

/** Every delivery that ended is in the tenant's audit log: which file (and its checksum), to whom, with what answer. */
async function auditDelivery(deps: Deps, tx: Tx, d: DeliveryRow, target: string | null, answer: string) {
  await recordAnonymousAudit(
    tx,
    deps.clock,
    d.tenant_id,
    { type: 'system', label: 'Ferry' },
    { ip: null, userAgent: null },
    {
      action: d.status === 'succeeded' ? 'delivery.succeeded' : 'delivery.failed',
      targetType: 'run',
      targetId: d.run_id,
      details: {
        delivery: d.id,
        destination: d.destination_name,
        type: d.destination_type,
        to: target,
        file: d.file_name,
        checksum: d.file_checksum ? `sha256:${d.file_checksum}` : null,
        attempts: d.attempts,
        answer: answer.slice(0, 500),
      },
    },
  );
}

/** A failed delivery gets one more attempt with the same file. */
export async function retryDelivery(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  runId: string,
  deliveryId: string,
): Promise<DeliveryRow> {
  return deps.db.transaction(async (tx) => {
    const updated = await requeueFailedDelivery(tx, actor.tenantId, runId, deliveryId);
    if (!updated) {
      const current = await getDelivery(tx, actor.tenantId, runId, deliveryId);
      if (!current) throw new NotFound('Delivery');
      throw new Conflict(`The delivery is ${current.status}; only a failed delivery can be retried`);
    }
    await enqueue(deps, tx, deliveryId, updated.attempts + 1);
    await recordAudit(tx, deps.clock, actor, origin, {
      action: 'delivery.retried',
      targetType: 'run',
      targetId: runId,
      details: { delivery: deliveryId, destination: updated.destination_name },
    });
    return updated;
  });
}

/** Deliveries whose worker died while sending: queued again, or failed when out of attempts. */
export async function recoverStaleDeliveries(deps: Deps): Promise<number> {
  let recovered = 0;
  for (const d of await staleDeliveries(deps.db, STALE_SECONDS)) {
    const retryAt = d.attempts < d.max_attempts ? deps.clock.now() : null;
    await deps.db.transaction(async (tx) => {
      const ended = await failDeliveryAttempt(tx, d.id, d.attempts, {
        error: 'The worker stopped while sending',
        details: {},
        retryAt,
        now: deps.clock.now(),
      });
      if (!ended) return;
      recovered++;
      if (retryAt) await enqueue(deps, tx, d.id, d.attempts + 1);
      else await auditDelivery(deps, tx, ended, null, 'The worker stopped while sending');
    });
  }
  return recovered;
}
