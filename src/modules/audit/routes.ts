import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, PageQuery, pageOf, Timestamp } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { listAudit } from './service.ts';

const AuditSchema = Type.Object({
  id: Type.String(),
  action: Type.String(),
  actor: Type.Object({
    type: Type.String(),
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
    actorId: Type.Optional(Type.String({ format: 'uuid' })),
    targetType: Type.Optional(Type.String({ maxLength: 50 })),
    targetId: Type.Optional(Type.String({ maxLength: 100 })),
    from: Type.Optional(Timestamp),
    to: Type.Optional(Timestamp),
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
        targetType: q.targetType,
        targetId: q.targetId,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
      });
    },
  );
}
