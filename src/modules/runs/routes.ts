import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, PageQuery, ProblemSchema, pageOf, Timestamp } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { checkFormatOptionsFirst } from '../formats/check-options.ts';
import { openRunEventStream, writeRunEvents } from './event-stream.ts';
import { createDownloadLink, downloadByLink, downloadForCaller, type FileToSend } from './files.ts';
import { ExportBody, RunSchema, runStatuses } from './schema.ts';
import { cancelRun, createExport, deleteRun, getTenantRun, listTenantRuns, retryRun } from './service.ts';
import { StatsQuerySchema, StatsSchema, tenantStats } from './stats.ts';

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
    async (request) => tenantStats(deps, requirePrincipal(request.principal).tenantId, request.query),
  );

  app.post(
    '/api/v1/exports',
    {
      config: { auth: { permission: 'runs:write' } },
      preValidation: checkFormatOptionsFirst,
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
            burstId: Type.Optional(
              Type.String({
                format: 'uuid',
                description: "A burst's lead run: the runs it made, one per recipient",
              }),
            ),
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
        burstId: q.burstId,
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
    async (request, reply) =>
      sendFile(
        reply,
        await downloadForCaller(
          deps,
          requirePrincipal(request.principal),
          request.origin,
          request.params.id,
          request.headers.range,
          request.method === 'HEAD',
        ),
      ),
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
    async (request, reply) =>
      sendFile(
        reply,
        await downloadByLink(
          deps,
          request.origin,
          request.params.token,
          request.headers.range,
          request.method === 'HEAD',
        ),
      ),
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
      const stream = await openRunEventStream(deps, requirePrincipal(request.principal), request.params.id);
      reply.hijack();
      writeRunEvents(reply.raw, stream, openStreams);
    },
  );
}
