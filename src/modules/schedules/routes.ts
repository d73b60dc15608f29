import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, PageQuery, ProblemSchema, pageOf } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import { listCountries, listRegions } from '../../timing/calendar.ts';
import type { Deps } from '../deps.ts';
import { checkFormatOptionsFirst } from '../formats/check-options.ts';
import { RunSchema } from '../runs/schema.ts';
import { descriptionLanguageOf } from './language.ts';
import {
  CronPreviewBody,
  CronPreviewSchema,
  ScheduleCreateBody,
  SchedulePatchBody,
  ScheduleSchema,
} from './schema.ts';
import {
  createSchedule,
  deleteTenantSchedule,
  getTenantSchedule,
  listTenantSchedules,
  previewTiming,
  runScheduleNow,
  setScheduleState,
  updateTenantSchedule,
} from './service.ts';

const one = { 200: ScheduleSchema, 404: ProblemSchema, ...authErrors };

/** Routes whose answer describes a timing in words take the caller's language from Accept-Language. */
const LanguageHeaders = Type.Object({
  'accept-language': Type.Optional(
    Type.String({
      description:
        'The language of `description`: German for de, de-DE, de-AT (any de-…), English otherwise. q-values are honoured, e.g. "de-DE,de;q=0.9,en;q=0.8". Other text, such as validation errors, stays English.',
    }),
  ),
});
const DESCRIBED =
  'The `description` is in the language the Accept-Language header asks for (English or German).';

/** The description language of a request; the answer varies by Accept-Language, which caches must know. */
function describedIn(headers: { 'accept-language'?: string | undefined }, reply: FastifyReply) {
  const vary = reply.getHeader('vary');
  const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
  if (!/(^|,)\s*accept-language\s*(,|$)/i.test(current))
    reply.header('vary', current ? `${current}, Accept-Language` : 'Accept-Language');
  return descriptionLanguageOf(headers['accept-language']);
}

export function registerScheduleRoutes(app: App, deps: Deps): void {
  const read = { auth: { permission: 'schedules:read' as const } };
  const write = { auth: { permission: 'schedules:write' as const } };

  app.get(
    '/api/v1/schedules',
    {
      config: read,
      schema: {
        tags: ['schedules'],
        summary: 'Schedules of your tenant, with their next runs and last run',
        description: DESCRIBED,
        headers: LanguageHeaders,
        querystring: Type.Object(
          {
            ...PageQuery,
            reportId: Type.Optional(Type.String({ format: 'uuid' })),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(ScheduleSchema), ...authErrors },
      },
    },
    async (request, reply) =>
      listTenantSchedules(
        deps,
        requirePrincipal(request.principal),
        { ...request.query, limit: request.query.limit ?? 50 },
        describedIn(request.headers, reply),
      ),
  );

  app.post(
    '/api/v1/schedules',
    {
      config: write,
      preValidation: checkFormatOptionsFirst,
      schema: {
        tags: ['schedules'],
        summary: 'Create a schedule: a report, a format, and a cron expression or preset in a time zone',
        description: DESCRIBED,
        headers: LanguageHeaders,
        body: ScheduleCreateBody,
        response: { 201: ScheduleSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await createSchedule(
            deps,
            requirePrincipal(request.principal),
            request.origin,
            request.body,
            describedIn(request.headers, reply),
          ),
        ),
  );

  app.post(
    '/api/v1/cron/preview',
    {
      config: read,
      schema: {
        tags: ['schedules'],
        summary: 'Describe a cron expression or preset and list its next occurrences',
        description: `Each occurrence says whether the zone changes its UTC offset that day and, for a fixed time inside the spring-forward gap, which time was asked for. Warnings name days some months lack, runs closer than 15 minutes, and both day fields set (OR). ${DESCRIBED} Errors and warnings stay English.`,
        headers: LanguageHeaders,
        body: CronPreviewBody,
        response: { 200: CronPreviewSchema, ...authErrors },
      },
    },
    async (request, reply) => previewTiming(deps, request.body, describedIn(request.headers, reply)),
  );

  app.get(
    '/api/v1/calendars',
    {
      config: read,
      schema: {
        tags: ['schedules'],
        summary: 'Business calendars: countries, or the regions of ?country=DE',
        querystring: Type.Object(
          { country: Type.Optional(Type.String({ minLength: 2, maxLength: 2 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(Type.Object({ code: Type.String(), name: Type.String() })) }),
          404: ProblemSchema,
          ...authErrors,
        },
      },
    },
    async (request) => ({
      items: request.query.country ? listRegions(request.query.country) : listCountries(),
    }),
  );

  app.get(
    '/api/v1/schedules/:id',
    {
      config: { ...read, resource: 'schedule' },
      schema: {
        tags: ['schedules'],
        summary: 'A schedule',
        description: DESCRIBED,
        headers: LanguageHeaders,
        params: IdParams,
        response: one,
      },
    },
    async (request, reply) =>
      getTenantSchedule(
        deps,
        requirePrincipal(request.principal),
        request.params.id,
        describedIn(request.headers, reply),
      ),
  );

  app.patch(
    '/api/v1/schedules/:id',
    {
      config: { ...write, resource: 'schedule' },
      schema: {
        tags: ['schedules'],
        summary: 'Change a schedule; a new timing takes effect from its next occurrence',
        description: DESCRIBED,
        headers: LanguageHeaders,
        params: IdParams,
        body: SchedulePatchBody,
        response: one,
      },
    },
    async (request, reply) =>
      updateTenantSchedule(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body,
        describedIn(request.headers, reply),
      ),
  );

  app.delete(
    '/api/v1/schedules/:id',
    {
      config: { ...write, resource: 'schedule' },
      schema: {
        tags: ['schedules'],
        summary: 'Delete a schedule (its run history stays)',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await deleteTenantSchedule(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
      );
      return reply.code(204).send(null);
    },
  );

  for (const [path, active] of [
    ['pause', false],
    ['resume', true],
  ] as const) {
    app.post(
      `/api/v1/schedules/:id/${path}`,
      {
        config: { ...write, resource: 'schedule' },
        schema: {
          tags: ['schedules'],
          summary: active
            ? 'Resume: the next run is the first occurrence after now (missed ones are not made up)'
            : 'Pause: no runs are created until resumed',
          description: DESCRIBED,
          headers: LanguageHeaders,
          params: IdParams,
          response: { ...one, 409: ProblemSchema },
        },
      },
      async (request, reply) =>
        setScheduleState(
          deps,
          requirePrincipal(request.principal),
          request.origin,
          request.params.id,
          active,
          describedIn(request.headers, reply),
        ),
    );
  }

  app.post(
    '/api/v1/schedules/:id/run',
    {
      config: { auth: { permission: 'runs:write' }, resource: 'schedule' },
      schema: {
        tags: ['schedules'],
        summary: 'Run now (202 with the run; 409 while a run of this schedule is queued or running)',
        params: IdParams,
        response: { 202: RunSchema, 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(
          await runScheduleNow(deps, requirePrincipal(request.principal), request.origin, request.params.id),
        ),
  );
}
