import { Type } from 'typebox';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, ProblemSchema } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import { destinationTypes } from './channel.ts';
import { channels } from './channels.ts';
import {
  DeliveryPolicySchema,
  DestinationCreateBody,
  DestinationPatchBody,
  DestinationSchema,
  DestinationTestSchema,
} from './schema.ts';
import {
  createDestination,
  deleteTenantDestination,
  getTenantDeliveryPolicy,
  getTenantDestination,
  listTenantDestinations,
  setTenantDeliveryPolicy,
  testDestination,
  updateTenantDestination,
} from './service.ts';

export function registerDestinationRoutes(app: App, deps: Deps): void {
  const read = { auth: { permission: 'destinations:read' as const } };
  const write = { auth: { permission: 'destinations:write' as const } };
  const one = { 200: DestinationSchema, 404: ProblemSchema, ...authErrors };

  app.get(
    '/api/v1/destination-types',
    {
      config: read,
      schema: {
        tags: ['destinations'],
        summary: 'The destination types with the JSON Schema of their settings and secrets',
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                type: Type.String(),
                settings: Type.Unknown(),
                secrets: Type.Unknown(),
                requiredSecrets: Type.Array(Type.String()),
              }),
            ),
          }),
          ...authErrors,
        },
      },
    },
    async () => ({
      items: destinationTypes.map((type) => ({
        type,
        settings: channels[type].settings,
        secrets: channels[type].secrets,
        requiredSecrets: [...channels[type].requiredSecrets],
      })),
    }),
  );

  app.get(
    '/api/v1/destinations',
    {
      config: read,
      schema: {
        tags: ['destinations'],
        summary: 'Destinations of your tenant, with the schedules that use each',
        response: { 200: Type.Object({ items: Type.Array(DestinationSchema) }), ...authErrors },
      },
    },
    async (request) => ({ items: await listTenantDestinations(deps, requirePrincipal(request.principal)) }),
  );

  app.post(
    '/api/v1/destinations',
    {
      config: write,
      schema: {
        tags: ['destinations'],
        summary: 'Create a destination: e-mail, Slack, webhook, S3 bucket, SFTP or Microsoft Teams',
        body: DestinationCreateBody,
        response: { 201: DestinationSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await createDestination(deps, requirePrincipal(request.principal), request.origin, request.body),
        ),
  );

  app.get(
    '/api/v1/destinations/:id',
    {
      config: { ...read, resource: 'destination' },
      schema: { tags: ['destinations'], summary: 'A destination', params: IdParams, response: one },
    },
    async (request) => getTenantDestination(deps, requirePrincipal(request.principal), request.params.id),
  );

  app.patch(
    '/api/v1/destinations/:id',
    {
      config: { ...write, resource: 'destination' },
      schema: {
        tags: ['destinations'],
        summary: 'Change a destination; pointing it somewhere new needs its secrets again',
        params: IdParams,
        body: DestinationPatchBody,
        response: { ...one, 409: ProblemSchema },
      },
    },
    async (request) =>
      updateTenantDestination(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
        request.body,
      ),
  );

  app.delete(
    '/api/v1/destinations/:id',
    {
      config: { ...write, resource: 'destination' },
      schema: {
        tags: ['destinations'],
        summary: 'Delete a destination no schedule uses (its delivery history stays)',
        params: IdParams,
        response: { 204: Type.Null(), 404: ProblemSchema, 409: ProblemSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      await deleteTenantDestination(
        deps,
        requirePrincipal(request.principal),
        request.origin,
        request.params.id,
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/destinations/:id/test',
    {
      config: { ...write, resource: 'destination' },
      schema: {
        tags: ['destinations'],
        summary: 'Send a real test message or file; 200 with ok false and the reason when it fails',
        params: IdParams,
        response: { 200: DestinationTestSchema, 404: ProblemSchema, ...authErrors },
      },
    },
    async (request) =>
      testDestination(deps, requirePrincipal(request.principal), request.origin, request.params.id),
  );

  app.get(
    '/api/v1/delivery-policy',
    {
      config: read,
      schema: {
        tags: ['destinations'],
        summary: 'The e-mail domains and webhook hosts your tenant may deliver to',
        response: { 200: DeliveryPolicySchema, ...authErrors },
      },
    },
    async (request) => getTenantDeliveryPolicy(deps, requirePrincipal(request.principal)),
  );

  app.put(
    '/api/v1/delivery-policy',
    {
      config: write,
      schema: {
        tags: ['destinations'],
        summary: 'Set the e-mail domains and webhook hosts your tenant may deliver to (empty lists: any)',
        body: DeliveryPolicySchema,
        response: { 200: DeliveryPolicySchema, ...authErrors },
      },
    },
    async (request) =>
      setTenantDeliveryPolicy(deps, requirePrincipal(request.principal), request.origin, request.body),
  );
}
