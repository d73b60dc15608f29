import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { exportFormats } from '../../engine/formats/registry.ts';
import { AppError, Invalid, Unavailable } from '../../lib/errors.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, PageQuery, ProblemSchema, pageOf, Timestamp } from '../../server/schemas.ts';
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
import { presentStats, runStats } from './stats.ts';

export const literals = <T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v)));

export const RunSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.String({ enum: [...runStatuses] }),
    trigger: Type.String(),
    reportId: Type.Union([Type.String(), Type.Null()]),
    format: Type.String(),
    createdAt: Timestamp,
    attempts: Type.Integer(),
    progress: Type.Object({
      rows: Type.Integer(),
      bytes: Type.Integer(),
      percent: Type.Union([Type.Number(), Type.Null()], {
        description: 'While running: the share of the rows of the last identical successful run (at most 99)',
      }),
      expectedRows: Type.Union([Type.Integer(), Type.Null()]),
    }),
  },
  { additionalProperties: true },
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
        querystring: Type.Object(
          { from: Type.Optional(Timestamp), to: Type.Optional(Timestamp) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const principal = requirePrincipal(request.principal);
      const to = request.query.to ? new Date(request.query.to) : new Date(deps.clock.now().getTime() + 1000);
      const from = request.query.from
        ? new Date(request.query.from)
        : new Date(to.getTime() - 30 * 86_400_000);
      if (from >= to) throw Invalid.field('from', 'must be before to');
      const [total, byReport, byFormat, byDay] = await Promise.all([
        runStats(deps.db, principal.tenantId, null, from, to),
        runStats(deps.db, principal.tenantId, 'report', from, to),
        runStats(deps.db, principal.tenantId, 'format', from, to),
        runStats(deps.db, principal.tenantId, 'day', from, to),
      ]);
      const empty = {
        key: 'all',
        runs: 0,
        succeeded: 0,
        failed: 0,
        rows: '0',
        bytes: '0',
        p50_ms: null,
        p95_ms: null,
      };
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        total: presentStats(total[0] ?? empty),
        byReport: byReport.map(presentStats),
        byFormat: byFormat.map(presentStats),
        byDay: byDay.map(presentStats),
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
    async (request, reply) =>
      reply
        .code(202)
        .send(await createExport(deps, requirePrincipal(request.principal), request.origin, request.body)),
  );

  app.get(
    '/api/v1/runs',
    {
      config: { auth: { permission: 'runs:read' } },
      schema: {
        tags: ['runs'],
        summary: 'Run history, newest first',
        querystring: Type.Object(
          {
            ...PageQuery,
            status: Type.Optional(Type.String({ enum: [...runStatuses] })),
            reportId: Type.Optional(Type.String({ format: 'uuid' })),
            scheduleId: Type.Optional(Type.String({ format: 'uuid' })),
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
          await downloadByLink(deps, request.origin, request.params.token, request.headers.range),
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
