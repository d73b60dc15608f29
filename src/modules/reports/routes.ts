import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, PageQuery, ProblemSchema, pageOf } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import {
  PreviewBody,
  PreviewResultSchema,
  ReportCreateBody,
  ReportPatchBody,
  ReportSchema,
  ResolvedParametersSchema,
  ResolveParametersBody,
  TemplateSchema,
  UnsavedPreviewBody,
} from './schema.ts';
import {
  createTenantReport,
  deleteTenantReport,
  getTenantReport,
  listTenantReports,
  previewSavedReport,
  previewUnsavedReport,
  resolveParameterValues,
  updateTenantReport,
  useTemplate,
} from './service.ts';
import { templates } from './templates.ts';

const previewErrors = { 404: ProblemSchema, 422: ProblemSchema };

/**
 * Aborts when the client goes away before its answer is sent (the response
 * closes unfinished): a preview nobody waits for stops on the source too.
 */
function whileConnected(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new Error('The client closed the request'));
  });
  return gone.signal;
}

export function registerReportRoutes(app: App, deps: Deps): void {
  const read = { auth: { permission: 'reports:read' as const } };
  const write = { auth: { permission: 'reports:write' as const } };

  app.get(
    '/api/v1/reports',
    {
      config: read,
      schema: {
        tags: ['reports'],
        summary: 'Reports of your tenant',
        querystring: Type.Object(
          {
            ...PageQuery,
            q: Type.Optional(
              Type.String({
                maxLength: 200,
                description: 'Only reports whose name or description contains this',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(ReportSchema), ...authErrors },
      },
    },
    async (request) =>
      listTenantReports(deps, requirePrincipal(request.principal), {
        cursor: request.query.cursor,
        limit: request.query.limit ?? 50,
        q: request.query.q,
      }),
  );

  app.post(
    '/api/v1/reports/parameters/resolve',
    {
      config: read,
      schema: {
        tags: ['reports'],
        summary:
          'The values parameters resolve to (relative dates in a zone at a moment), before running anything',
        description:
          'For forms: shows e.g. start_of_last_month as the date a run at `at` in `timezone` would use. Values that are missing or wrong are listed in errors, not refused.',
        body: ResolveParametersBody,
        response: { 200: ResolvedParametersSchema, ...authErrors },
      },
    },
    async (request) =>
      resolveParameterValues(
        deps,
        request.body.parameters,
        request.body.values ?? {},
        request.body.timezone,
        request.body.at,
      ),
  );

  app.post(
    '/api/v1/reports',
    {
      config: write,
      schema: {
        tags: ['reports'],
        summary: 'Create a report: SQL with {{typed}} parameters, or a builder spec',
        body: ReportCreateBody,
        response: { 201: ReportSchema, ...previewErrors, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await createTenantReport(deps, requirePrincipal(request.principal), request.origin, request.body),
        ),
  );

  app.post(
    '/api/v1/reports/preview',
    {
      // Unsaved SQL is arbitrary SQL: only those who may write reports may run it.
      config: write,
      schema: {
        tags: ['reports'],
        summary: 'Preview an unsaved report: first rows, column types, elapsed time',
        body: UnsavedPreviewBody,
        response: { 200: PreviewResultSchema, ...previewErrors, ...authErrors },
      },
    },
    async (request, reply) => {
      const { report, ...options } = request.body;
      return previewUnsavedReport(deps, requirePrincipal(request.principal), report, {
        ...options,
        signal: whileConnected(reply),
      });
    },
  );

  app.get(
    '/api/v1/reports/:id',
    {
      config: { ...read, resource: 'report' },
      schema: {
        tags: ['reports'],
        summary: 'One report',
        params: IdParams,
        response: { 200: ReportSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) => getTenantReport(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.patch(
    '/api/v1/reports/:id',
    {
      config: { ...write, resource: 'report' },
      schema: {
        tags: ['reports'],
        summary: 'Change a report',
        params: IdParams,
        body: ReportPatchBody,
        response: { 200: ReportSchema, ...previewErrors, ...authErrors },
      },
    },
    async (request) =>
      updateTenantReport(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body,
      ),
  );

  app.delete(
    '/api/v1/reports/:id',
    {
      config: { ...write, resource: 'report' },
      schema: {
        tags: ['reports'],
        summary: 'Delete a report (409 while schedules use it)',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await deleteTenantReport(deps, requirePrincipal(request.principal), request.origin, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/reports/:id/preview',
    {
      config: { ...read, resource: 'report' },
      schema: {
        tags: ['reports'],
        summary: 'First rows (default 100) with column names and types; no file',
        params: IdParams,
        body: PreviewBody,
        response: { 200: PreviewResultSchema, ...previewErrors, ...authErrors },
      },
    },
    async (request, reply) =>
      previewSavedReport(deps, requirePrincipal(request.principal), request.params.id, {
        ...request.body,
        signal: whileConnected(reply),
      }),
  );

  app.get(
    '/api/v1/templates',
    {
      config: read,
      schema: {
        tags: ['templates'],
        summary: 'Built-in report templates on the demo data',
        response: { 200: Type.Object({ items: Type.Array(TemplateSchema) }), ...authErrors },
      },
    },
    async () => ({ items: templates }),
  );

  app.post(
    '/api/v1/templates/:key/use',
    {
      config: write,
      schema: {
        tags: ['templates'],
        summary: "Create a report from a template on your tenant's demo connection",
        params: Type.Object(
          { key: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        body: Type.Object(
          { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 201: ReportSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await useTemplate(
            deps,
            requirePrincipal(request.principal),
            request.origin,
            request.params.key,
            request.body?.name,
          ),
        ),
  );
}
