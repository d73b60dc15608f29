import { Readable } from 'node:stream';
import { AppError, Conflict, NotFound } from '../../lib/errors.ts';
import { getArtifactForRun, insertDownload } from '../artifacts/repo.ts';
import { recordAudit } from '../audit/service.ts';
import type { Principal, RequestOrigin } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import { signLink, verifyLink } from './links.ts';
import { getRun } from './repo.ts';

// A run's file as it leaves Ferry: to a caller of the API, or to anyone holding
// a signed link; ranges, HEAD without a download counted, and every download logged.

export interface FileToSend {
  stream: Readable;
  fileName: string;
  contentType: string;
  size: number;
  range: { start: number; end: number } | null;
  checksum: string;
}

/** A Range header wholly outside the file: 416, with the size the client may ask within (RFC 9110 §15.5.17). */
export class RangeNotSatisfiable extends AppError {
  constructor(size: number) {
    super('RangeNotSatisfiable', 'The requested range is outside the file', {
      headers: { 'content-range': `bytes */${size}` },
    });
  }
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  // A reversed range is not a valid range: ignored, the whole file is sent (RFC 9110 §14.1.1).
  if (m[1] !== '' && m[2] !== '' && Number(m[1]) > Number(m[2])) return null;
  if (start > end || start >= size) throw new RangeNotSatisfiable(size);
  return { start, end };
}

async function openFile(
  deps: Deps,
  tenantId: string,
  runId: string,
  rangeHeader: string | undefined,
  who: { via: 'api' | 'link'; actorType: string | null; actorId: string | null },
  origin: RequestOrigin,
  /** A HEAD request: the headers only; nothing is read from storage or counted as a download. */
  headOnly = false,
): Promise<FileToSend> {
  const run = await getRun(deps.db, tenantId, runId);
  if (!run) throw new NotFound('Run');
  const artifact = await getArtifactForRun(deps.db, tenantId, runId);
  if (!artifact) throw new Conflict(`The run is ${run.status} and has no file`);
  if (artifact.deleted_at || artifact.expires_at <= deps.clock.now())
    throw new AppError('Gone', 'The file has expired and was deleted');
  const size = await deps.storage.size(artifact.key);
  if (size === null) throw new AppError('Gone', 'The file is no longer in storage');
  const range = parseRange(rangeHeader, size);
  if (headOnly)
    return {
      stream: Readable.from([]),
      fileName: artifact.file_name,
      contentType: artifact.content_type,
      size,
      range,
      checksum: artifact.checksum,
    };
  await insertDownload(deps.db, {
    tenantId,
    runId,
    via: who.via,
    actorType: who.actorType,
    actorId: who.actorId,
    ip: origin.ip,
    userAgent: origin.userAgent,
    range: range ? `${range.start}-${range.end}` : null,
    now: deps.clock.now(),
  });
  return {
    stream: await deps.storage.read(artifact.key, range ?? undefined),
    fileName: artifact.file_name,
    contentType: artifact.content_type,
    size,
    range,
    checksum: artifact.checksum,
  };
}

/** The file of a run for the operator's own command (`ferry export --out`): not a download to log. */
export async function readRunFile(deps: Deps, tenantId: string, runId: string): Promise<Readable> {
  const artifact = await getArtifactForRun(deps.db, tenantId, runId);
  if (!artifact || artifact.deleted_at) throw new Conflict('The run has no file');
  return deps.storage.read(artifact.key);
}

export async function downloadForCaller(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  runId: string,
  range: string | undefined,
  headOnly = false,
): Promise<FileToSend> {
  return openFile(
    deps,
    actor.tenantId,
    runId,
    range,
    { via: 'api', actorType: actor.kind, actorId: actor.kind === 'api_key' ? actor.apiKeyId : actor.userId },
    origin,
    headOnly,
  );
}

export async function createDownloadLink(
  deps: Deps,
  actor: Principal,
  origin: RequestOrigin,
  runId: string,
  ttlSeconds: number,
): Promise<{ url: string; expiresAt: string }> {
  const run = await getRun(deps.db, actor.tenantId, runId);
  if (!run) throw new NotFound('Run');
  const artifact = await getArtifactForRun(deps.db, actor.tenantId, runId);
  if (!artifact || artifact.deleted_at)
    throw new Conflict(`The run is ${run.status} and has no file to link to`);
  const expiresAt = new Date(
    Math.min(deps.clock.now().getTime() + ttlSeconds * 1000, artifact.expires_at.getTime()),
  );
  const token = signLink(deps.secrets, { runId, tenantId: actor.tenantId, expiresAt });
  await recordAudit(deps.db, deps.clock, actor, origin, {
    action: 'run.link_created',
    targetType: 'run',
    targetId: runId,
    details: { expiresAt: expiresAt.toISOString() },
  });
  return { url: `${deps.config.publicUrl}/d/${token}`, expiresAt: expiresAt.toISOString() };
}

export async function downloadByLink(
  deps: Deps,
  origin: RequestOrigin,
  token: string,
  range: string | undefined,
  headOnly = false,
): Promise<FileToSend> {
  const check = verifyLink(deps.secrets, token, deps.clock.now());
  if (!check.ok) {
    if (check.reason === 'expired')
      throw new AppError('Gone', 'This download link has expired; ask for a new one');
    throw new NotFound('Download');
  }
  return openFile(
    deps,
    check.claims.tenantId,
    check.claims.runId,
    range,
    { via: 'link', actorType: null, actorId: null },
    origin,
    headOnly,
  );
}
