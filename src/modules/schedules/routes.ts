import { Type } from 'typebox';
import { listCountries, listRegions } from '../../scheduler/calendar.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, PageQuery, ProblemSchema, pageOf } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { RunSchema } from '../runs/routes.ts';
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
    async (request) =>
      listTenantSchedules(deps, requirePrincipal(request.principal), {
        ...request.query,
        limit: request.query.limit ?? 50,
      }),
  );

  app.post(
    '/api/v1/schedules',
    {
      config: write,
      schema: {
        tags: ['schedules'],
        summary: 'Create a schedule: a report, a format, and a cron expression or preset in a time zone',
        body: ScheduleCreateBody,
        response: { 201: ScheduleSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(await createSchedule(deps, requirePrincipal(request.principal), request.origin, request.body)),
  );

  app.post(
    '/api/v1/cron/preview',
    {
      config: read,
      schema: {
        tags: ['schedules'],
        summary: 'Describe a cron expression or preset and list its next occurrences',
        description:
          'Each occurrence says whether the zone changes its UTC offset that day and, for a fixed time inside the spring-forward gap, which time was asked for. Warnings name days some months lack, runs closer than 15 minutes, and both day fields set (OR).',
        body: CronPreviewBody,
        response: { 200: CronPreviewSchema, ...authErrors },
      },
    },
    async (request) => previewTiming(deps, request.body),
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
      schema: { tags: ['schedules'], summary: 'A schedule', params: IdParams, response: one },
    },
    async (request) => getTenantSchedule(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.patch(
    '/api/v1/schedules/:id',
    {
      config: { ...write, resource: 'schedule' },
      schema: {
        tags: ['schedules'],
        summary: 'Change a schedule; a new timing takes effect from its next occurrence',
        params: IdParams,
        body: SchedulePatchBody,
        response: one,
      },
    },
    async (request) =>
      updateTenantSchedule(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body,
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
          params: IdParams,
          response: { ...one, 409: ProblemSchema },
        },
      },
      async (request) =>
        setScheduleState(
          deps,
          requirePrincipal(request.principal),
          request.origin,
          request.params.id,
          active,
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
