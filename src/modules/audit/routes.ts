import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, PageQuery, pageOf, Timestamp } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { listAudit, listAuditFacets } from './service.ts';

const ActorType = Type.Union(
  [Type.Literal('user'), Type.Literal('api_key'), Type.Literal('system'), Type.Literal('anonymous')],
  { description: 'Who acted: a signed-in user, an API key, the system (scheduler, CLI) or no one signed in' },
);

const AuditSchema = Type.Object({
  id: Type.String(),
  action: Type.String(),
  actor: Type.Object({
    type: ActorType,
    id: Type.Union([Type.String(), Type.Null()]),
    label: Type.Union([Type.String(), Type.Null()]),
  }),
  target: Type.Union([
    Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }),
    Type.Null(),
  ]),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Timestamp,
});

const AuditQuery = Type.Object(
  {
    ...PageQuery,
    action: Type.Optional(
      Type.String({ maxLength: 100, description: 'Exact action, or a prefix ending in * (e.g. member.*)' }),
    ),
    actorId: Type.Optional(
      Type.String({ format: 'uuid', description: 'The user or API key that acted (actor.id)' }),
    ),
    actorType: Type.Optional(ActorType),
    targetType: Type.Optional(Type.String({ maxLength: 50 })),
    targetId: Type.Optional(Type.String({ maxLength: 100 })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Entries at or after this time' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Entries before this time' })),
  },
  { additionalProperties: false },
);

export function registerAuditRoutes(app: App, deps: Deps): void {
  app.get(
    '/api/v1/audit',
    {
      config: { auth: { permission: 'audit:read' } },
      schema: {
        tags: ['audit'],
        summary: 'Audit log of your tenant, newest first',
        querystring: AuditQuery,
        response: { 200: pageOf(AuditSchema), ...authErrors },
      },
    },
    async (request) => {
      const q = request.query;
      return listAudit(deps, requirePrincipal(request.principal), {
        limit: q.limit ?? 50,
        cursor: q.cursor,
        action: q.action,
        actorId: q.actorId,
        actorType: q.actorType,
        targetType: q.targetType,
        targetId: q.targetId,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
      });
    },
  );

  app.get(
    '/api/v1/audit/facets',
    {
      config: { auth: { permission: 'audit:read' } },
      schema: {
        tags: ['audit'],
        summary: "The actions, target types and actors in your tenant's audit log, for filters",
        response: {
          200: Type.Object({
            actions: Type.Array(Type.String()),
            targetTypes: Type.Array(Type.String()),
            actors: Type.Array(
              Type.Object({
                type: ActorType,
                id: Type.Union([Type.String(), Type.Null()]),
                label: Type.Union([Type.String(), Type.Null()]),
              }),
              { description: 'The 200 actors that acted last, newest first' },
            ),
          }),
          ...authErrors,
        },
      },
    },
    async (request) => listAuditFacets(deps, requirePrincipal(request.principal)),
  );
}
