import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { exportFormats } from '../../engine/formats/registry.ts';
import { AppError, Invalid, Unavailable } from '../../lib/errors.ts';
import { isValidTimeZone } from '../../lib/zoned-time.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import {
  authErrors,
  IdParams,
  NullableTimestamp,
  PageQuery,
  ProblemSchema,
  pageOf,
  Timestamp,
} from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Principal } from '../auth-context.ts';
import type { Deps } from '../deps.ts';
import type { RunView } from './present.ts';
import { activeStatuses, runStatuses } from './repo.ts';
import {
  cancelRun,
  createDownloadLink,
  createExport,
  deleteRun,
  downloadByLink,
  downloadForCaller,
  type FileToSend,
  getTenantRun,
  listTenantRuns,
  RangeNotSatisfiable,
  retryRun,
} from './service.ts';
import {
  emptyStatsRow,
  fillDays,
  presentReportStats,
  presentStats,
  runStats,
  StatsQuerySchema,
  StatsSchema,
} from './stats.ts';

export const literals = <T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v)));

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const ErrorStage = nullable(
  Type.Union([Type.Literal('query'), Type.Literal('file')], {
    description: 'The stage the error happened in, when known',
  }),
);
const ErrorLocation = nullable(
  Type.Object(
    { line: Type.Integer(), column: Type.Integer() },
    { description: "Where in the report's SQL a query error points (1-based)" },
  ),
);

export const RunSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.String({ enum: [...runStatuses] }),
    trigger: Type.String({
      enum: ['manual', 'api', 'schedule', 'cli'],
      description: 'manual: started in the app by a user (createdBy); api: with an API key; schedule; cli',
    }),
    scheduleId: nullable(Type.String()),
    scheduleName: nullable(Type.String()),
    scheduleTimeZone: nullable(
      Type.String({ description: "The schedule's zone: scheduledFor is meant in it" }),
    ),
    createdBy: nullable(
      Type.Object(
        { id: Type.String(), name: Type.String() },
        { description: 'Who started the run (the creator of the API key for trigger api)' },
      ),
    ),
    reportId: nullable(Type.String()),
    reportName: Type.String({ description: 'As it was when the run was created' }),
    connectionId: nullable(
      Type.String({ description: 'The connection the report read when the run was created' }),
    ),
    format: Type.String(),
    formatOptions: Type.Record(Type.String(), Type.Unknown()),
    parameters: Type.Record(Type.String(), Type.Unknown(), { description: 'The values given' }),
    timezone: Type.String({ description: 'Zone of relative dates and the file name' }),
    scheduledFor: NullableTimestamp,
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
    durationMs: nullable(Type.Integer()),
    attempts: Type.Integer({ description: 'Attempts started so far' }),
    maxAttempts: Type.Integer(),
    progress: Type.Object({
      rows: Type.Integer(),
      bytes: Type.Integer(),
      percent: Type.Union([Type.Number(), Type.Null()], {
        description: 'While running: the share of the rows of the last identical successful run (at most 99)',
      }),
      expectedRows: Type.Union([Type.Integer(), Type.Null()]),
    }),
    rowCount: nullable(Type.Integer()),
    fileName: nullable(Type.String()),
    fileSize: nullable(Type.Integer()),
    contentType: nullable(Type.String()),
    checksum: nullable(Type.String({ description: 'sha256:<hex> of the file' })),
    warnings: Type.Array(
      Type.Object({ code: Type.String(), message: Type.String(), count: Type.Integer() }),
      {
        description:
          'What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD)',
      },
    ),
    cancelRequested: Type.Boolean(),
    error: nullable(
      Type.String({
        description:
          'Once the run has ended: what went wrong (the database message for a query error, ending in "(line L, column C)" when the database names a place in the SQL); for skipped_condition, why nothing was delivered',
      }),
    ),
    errorCode: nullable(
      Type.String({
        description:
          'query, transient, connection, network, storage, limit, lost, cancelled, condition, or the kind of an internal error',
      }),
    ),
    errorStage: ErrorStage,
    errorLocation: ErrorLocation,
    retrying: Type.Boolean({ description: 'Queued again after a failed attempt, waiting for the next one' }),
    lastFailure: nullable(
      Type.Object(
        {
          attempt: Type.Integer({ description: 'The attempt that failed' }),
          error: Type.String(),
          errorCode: nullable(Type.String()),
          errorStage: ErrorStage,
          errorLocation: ErrorLocation,
        },
        {
          description:
            'While retrying: the failed attempt the run waits to retry. The run itself has no error until it ends.',
        },
      ),
    ),
    nextAttemptAt: Type.Union([Timestamp, Type.Null()], {
      description: 'While retrying (on GET /runs/{id}): when the next attempt starts',
    }),
    deliveries: Type.Array(Type.Unknown(), { description: 'Deliveries are not available yet: always empty' }),
    hasFile: Type.Optional(
      Type.Boolean({ description: 'GET /runs/{id}: the file can be downloaded (not expired or deleted)' }),
    ),
    file: Type.Optional(
      nullable(
        Type.Object(
          {
            state: Type.Union([Type.Literal('available'), Type.Literal('expired')]),
            expiresAt: Timestamp,
          },
          { description: 'GET /runs/{id}: the stored file, until when it is kept, or that it has expired' },
        ),
      ),
    ),
    attemptHistory: Type.Optional(
      Type.Array(
        Type.Object({
          number: Type.Integer(),
          worker: Type.String(),
          status: Type.String({ enum: ['running', 'succeeded', 'failed', 'lost', 'cancelled'] }),
          startedAt: Timestamp,
          finishedAt: NullableTimestamp,
          error: nullable(Type.String()),
        }),
        { description: 'GET /runs/{id}: every attempt, first first' },
      ),
    ),
    downloads: Type.Optional(
      Type.Array(
        Type.Object({
          via: Type.String({ enum: ['api', 'link'] }),
          actorType: nullable(Type.String()),
          actorId: nullable(Type.String()),
          ip: nullable(Type.String()),
          userAgent: nullable(Type.String()),
          range: nullable(Type.String()),
          at: Timestamp,
        }),
        { description: 'GET /runs/{id}: every download of the file' },
      ),
    ),
  },
  { additionalProperties: false },
);

const ExportBody = Type.Object(
  {
    reportId: Type.String({ format: 'uuid' }),
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    format: literals(exportFormats),
    formatOptions: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          'Per format; plus compression ("gzip") and fileName ("{report}_{date:yyyy-MM-dd}.{ext}")',
      }),
    ),
    timezone: Type.Optional(
      Type.String({
        maxLength: 100,
        description: 'IANA zone for relative dates and the file name (default UTC)',
      }),
    ),
    destinationIds: Type.Optional(
      Type.Array(Type.String({ format: 'uuid' }), {
        maxItems: 0,
        description: 'Deliveries are not available yet',
      }),
    ),
  },
  { additionalProperties: false },
);

/** RFC 6266: an ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

function sendFile(reply: FastifyReply, file: FileToSend) {
  reply.header('content-type', file.contentType);
  reply.header('content-disposition', contentDisposition(file.fileName));
  reply.header('accept-ranges', 'bytes');
  reply.header('digest', `sha-256=${Buffer.from(file.checksum, 'hex').toString('base64')}`);
  reply.header('cache-control', 'private, no-store');
  if (file.range) {
    reply.code(206);
    reply.header('content-range', `bytes ${file.range.start}-${file.range.end}/${file.size}`);
    reply.header('content-length', String(file.range.end - file.range.start + 1));
  } else {
    reply.header('content-length', String(file.size));
  }
  return reply.send(file.stream);
}

function rangeProblem(reply: FastifyReply, err: unknown) {
  if (err instanceof RangeNotSatisfiable) {
    reply.header('content-range', `bytes */${err.size}`);
    return reply.code(416).type('application/problem+json').send({
      type: 'urn:ferry:problem:range-not-satisfiable',
      title: 'Range Not Satisfiable',
      status: 416,
      detail: err.message,
    });
  }
  throw err;
}

export function registerRunRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/stats',
    {
      config: { auth: { permission: 'stats:read' } },
      schema: {
        tags: ['runs'],
        summary: 'Runs, failures, rows, bytes and p50/p95 durations: in total and per report, format and day',
        description:
          'Runs created in [from, to). byDay lists every calendar day of the period in `zone`, with runs per status.',
        querystring: StatsQuerySchema,
        response: { 200: StatsSchema, ...authErrors },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request.principal);
      const to = request.query.to ? new Date(request.query.to) : new Date(deps.clock.now().getTime() + 1000);
      const from = request.query.from
        ? new Date(request.query.from)
        : new Date(to.getTime() - 30 * 86_400_000);
      if (from >= to) throw Invalid.field('from', 'must be before to');
      const zone = request.query.zone ?? 'UTC';
      if (!isValidTimeZone(zone)) throw Invalid.field('zone', 'is not a known IANA time zone');
      const [total, byReport, byFormat, byDay] = await Promise.all([
        runStats(deps.db, principal.tenantId, null, from, to),
        runStats(deps.db, principal.tenantId, 'report', from, to),
        runStats(deps.db, principal.tenantId, 'format', from, to),
        runStats(deps.db, principal.tenantId, 'day', from, to, zone),
      ]);
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        zone,
        total: presentStats(total[0] ?? emptyStatsRow('all')),
        byReport: byReport.map(presentReportStats),
        byFormat: byFormat.map(presentStats),
        byDay: fillDays(byDay, from, to, zone).map(presentStats),
      };
    },
  );

  app.post(
    '/api/v1/exports',
    {
      config: { auth: { permission: 'runs:write' } },
      schema: {
        tags: ['runs'],
        summary: 'Export a report now: 202 with the queued run',
        body: ExportBody,
        response: { 202: RunSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request.principal);
      // Started in the app by a signed-in user: manual, by them; with an API key: api.
      const trigger = principal.kind === 'user' ? 'manual' : 'api';
      return reply.code(202).send(await createExport(deps, principal, request.origin, request.body, trigger));
    },
  );

  app.get(
    '/api/v1/runs',
    {
      config: { auth: { permission: 'runs:read' } },
      schema: {
        tags: ['runs'],
        summary: 'Run history, newest first',
        description:
          'Filters combine with AND. from/to bound the creation time (from inclusive, to exclusive). Each run names its schedule (and its zone) and who started it.',
        querystring: Type.Object(
          {
            ...PageQuery,
            status: Type.Optional(Type.String({ enum: [...runStatuses] })),
            reportId: Type.Optional(Type.String({ format: 'uuid' })),
            scheduleId: Type.Optional(Type.String({ format: 'uuid' })),
            trigger: Type.Optional(Type.String({ enum: ['manual', 'api', 'schedule', 'cli'] })),
            failedOnly: Type.Optional(
              Type.Boolean({
                description: 'Only failed runs and runs waiting to be retried after a failed attempt',
              }),
            ),
            from: Type.Optional(Timestamp),
            to: Type.Optional(Timestamp),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(RunSchema), ...authErrors },
      },
    },
    async (request) => {
      const q = request.query;
      return listTenantRuns(deps, requirePrincipal(request.principal), {
        limit: q.limit ?? 50,
        cursor: q.cursor,
        status: q.status,
        reportId: q.reportId,
        scheduleId: q.scheduleId,
        trigger: q.trigger,
        failedOnly: q.failedOnly,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
      });
    },
  );

  app.get(
    '/api/v1/runs/:id',
    {
      config: { auth: { permission: 'runs:read' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary: 'A run with its attempts and downloads',
        params: IdParams,
        response: { 200: RunSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getTenantRun(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.delete(
    '/api/v1/runs/:id',
    {
      config: { auth: { permission: 'runs:write' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary: 'Delete a finished run and its file',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await deleteRun(deps, requirePrincipal(request.principal), request.origin, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/runs/:id/cancel',
    {
      config: { auth: { permission: 'runs:write' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary: 'Cancel a queued or running run',
        params: IdParams,
        response: { 200: RunSchema, 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request) =>
      cancelRun(deps, requirePrincipal(request.principal), request.origin, request.params.id),
  );

  app.post(
    '/api/v1/runs/:id/retry',
    {
      config: { auth: { permission: 'runs:write' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary: 'Start a new attempt of a failed run',
        params: IdParams,
        response: { 202: RunSchema, 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(await retryRun(deps, requirePrincipal(request.principal), request.origin, request.params.id)),
  );

  app.post(
    '/api/v1/runs/:id/link',
    {
      config: { auth: { permission: 'runs:download' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary: 'A signed download URL (default 1 hour)',
        params: IdParams,
        body: Type.Optional(
          Type.Object(
            { ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 7 * 86_400 })) },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Object({ url: Type.String(), expiresAt: Timestamp }),
          404: ProblemSchema,
          409: ProblemSchema,
          ...authErrors,
        },
      },
    },
    async (request) =>
      createDownloadLink(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body?.ttlSeconds ?? 3600,
      ),
  );

  app.get(
    '/api/v1/runs/:id/download',
    {
      config: { auth: { permission: 'runs:download' }, resource: 'run' },
      schema: { tags: ['runs'], summary: 'The file (supports Range)', params: IdParams },
    },
    async (request, reply) => {
      try {
        return sendFile(
          reply,
          await downloadForCaller(
            deps,
            requirePrincipal(request.principal),
            request.origin,
            request.params.id,
            request.headers.range,
            request.method === 'HEAD',
          ),
        );
      } catch (err) {
        return rangeProblem(reply, err);
      }
    },
  );

  app.get(
    '/d/:token',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['runs'],
        summary: 'The file, for anyone holding an unexpired signed link',
        params: Type.Object({ token: Type.String({ maxLength: 400 }) }),
      },
    },
    async (request, reply) => {
      try {
        return sendFile(
          reply,
          await downloadByLink(
            deps,
            request.origin,
            request.params.token,
            request.headers.range,
            request.method === 'HEAD',
          ),
        );
      } catch (err) {
        return rangeProblem(reply, err);
      }
    },
  );

  // Open event streams of this server: ended when it closes, or they would hold it open.
  const openStreams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of openStreams) end();
    done();
  });

  app.get(
    '/api/v1/runs/:id/events',
    {
      config: { auth: { permission: 'runs:read' }, resource: 'run' },
      schema: {
        tags: ['runs'],
        summary: 'Server-sent events: the run whenever its status or progress changes',
        description:
          'At most FERRY_MAX_EVENT_STREAMS (default 20) streams per user or API key are open at once; one more is answered 429.',
        params: IdParams,
        response: { 404: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request.principal);
      const events = deps.runEvents;
      if (!events) throw new Unavailable('Run events are not served by this process');
      const release = events.reserve(streamOwner(principal));
      if (!release)
        throw new AppError(
          'RateLimited',
          `At most ${events.maxStreamsPerPrincipal} run event streams may be open at once per user or API key; close one before opening another`,
        );
      const id = request.params.id;
      let first: RunView;
      try {
        first = await getTenantRun(deps, principal, id);
      } catch (err) {
        release();
        throw err;
      }
      reply.hijack();
      // Streams of one run share its reads: any follower's load serves all (they are of its tenant).
      const load = async () => {
        try {
          return await getTenantRun(deps, principal, id);
        } catch (err) {
          if (err instanceof AppError) return null;
          throw err;
        }
      };
      writeRunEvents(reply.raw, first, (send) => events.follow(id, load, send), release, openStreams);
    },
  );
}

/**
 * Sends the run as server-sent events, from `first` on, whenever it changes, until it
 * ends (or is gone), the client leaves, or the server closes (`open` holds the ends).
 */
function writeRunEvents(
  res: ServerResponse,
  first: RunView,
  follow: (send: (run: RunView | null) => void) => () => void,
  release: () => void,
  open: Set<() => void>,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let last = '';
  let ended = false;
  let unfollow = () => {};
  const end = () => {
    if (ended) return;
    ended = true;
    unfollow();
    release();
    open.delete(end);
    res.end();
  };
  const send = (run: RunView | null) => {
    if (ended) return;
    if (!run) return end();
    const state = JSON.stringify(run);
    if (state !== last) res.write(`event: run\ndata: ${state}\n\n`);
    last = state;
    if (!activeStatuses.includes(run.status)) end();
  };
  open.add(end);
  res.on('close', end);
  send(first);
  if (!ended) unfollow = follow(send);
}

/** Whose stream slots a request uses: the API key, or the signed-in user across their sessions. */
function streamOwner(principal: Principal): string {
  return principal.apiKeyId ? `key:${principal.apiKeyId}` : `user:${principal.userId ?? principal.sessionId}`;
}
