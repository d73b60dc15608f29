import { Type } from 'typebox';
import { literals, Timestamp } from '../../server/schemas.ts';
import { destinationTypes } from './channel.ts';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const SettingsObject = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'The settings of the destination type (GET /api/v1/destination-types lists each type’s fields); shown to every reader',
});
const SecretsObject = Type.Record(Type.String(), Type.Unknown(), {
  description:
    'Passwords, tokens, keys and signing secrets: write-only, sealed at rest, never shown again. On PATCH, a field given replaces the stored one, null removes it; fields left out are kept.',
});

export const DestinationCreateBody = Type.Object(
  {
    name: Name,
    type: literals(destinationTypes),
    settings: SettingsObject,
    secrets: Type.Optional(SecretsObject),
  },
  { additionalProperties: false },
);

export const DestinationPatchBody = Type.Object(
  {
    name: Type.Optional(Name),
    settings: Type.Optional(SettingsObject),
    secrets: Type.Optional(SecretsObject),
  },
  { additionalProperties: false },
);

export const DestinationSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    type: Type.String({ enum: [...destinationTypes] }),
    settings: Type.Record(Type.String(), Type.Unknown()),
    secretsSet: Type.Array(Type.String(), {
      description: 'The secret fields that are set (their values are never shown)',
    }),
    usedBy: Type.Array(Type.Object({ id: Type.String(), name: Type.String() }), {
      description: 'The schedules that deliver here',
    }),
    lastTest: Type.Union([
      Type.Object({ at: Timestamp, ok: Type.Boolean(), message: Type.String() }),
      Type.Null(),
    ]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);

export const DestinationTestSchema = Type.Object({
  ok: Type.Boolean(),
  message: Type.String({ description: 'What the peer answered, or why the test failed' }),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const DeliveryPolicySchema = Type.Object(
  {
    allowedEmailDomains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      maxItems: 100,
      description: 'E-mail may go only to these domains (and their subdomains); empty: any domain',
    }),
    allowedWebhookHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      maxItems: 100,
      description:
        'Webhooks and Teams may go only to these hosts ("*.example.com" for subdomains); empty: any public host',
    }),
  },
  { additionalProperties: false },
);
