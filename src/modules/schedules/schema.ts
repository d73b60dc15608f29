import { Type } from 'typebox';
import { exportFormats } from '../../engine/formats/registry.ts';
import { presetKinds, weekdays } from '../../scheduler/presets.ts';
import { Timestamp } from '../../server/schemas.ts';
import { literals } from '../runs/routes.ts';

const Calendar = Type.Object(
  {
    country: Type.String({ minLength: 2, maxLength: 2, description: 'ISO 3166-1 alpha-2, e.g. DE' }),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 10, description: 'e.g. BY for Bavaria' })),
  },
  {
    additionalProperties: false,
    description:
      'Skip weekends and public holidays of this country/region (GET /api/v1/calendars lists them)',
  },
);

export const PresetSchema = Type.Object(
  {
    kind: literals(presetKinds),
    time: Type.Optional(Type.String({ maxLength: 5, description: 'Local time HH:MM' })),
    minute: Type.Optional(Type.Integer({ description: 'hourly: minute past the hour' })),
    weekday: Type.Optional(literals(weekdays)),
    day: Type.Optional(
      Type.Union([Type.Integer(), Type.Literal('last'), Type.Literal('last_business_day')], {
        description: 'monthly/quarterly/yearly: 1–31, "last", or (monthly) "last_business_day"',
      }),
    ),
    month: Type.Optional(Type.Integer({ description: 'yearly: 1–12' })),
  },
  { additionalProperties: false },
);

const Cron = Type.String({
  maxLength: 200,
  description:
    'Five fields: minute hour day-of-month month day-of-week. When both day fields are restricted, a day matching either fires (classic cron OR).',
});
const Zone = Type.String({ maxLength: 100, description: 'IANA time zone, default UTC' });

const definition = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  reportId: Type.String({ format: 'uuid' }),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  format: literals(exportFormats),
  formatOptions: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  cron: Type.Optional(Cron),
  preset: Type.Optional(PresetSchema),
  timezone: Type.Optional(Zone),
  calendar: Type.Optional(Type.Union([Calendar, Type.Null()])),
  destinationIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 20 })),
  condition: Type.Optional(
    Type.Union([Type.Literal('always'), Type.Literal('has_rows'), Type.Literal('changed')], {
      description:
        'has_rows: only when the result has rows; changed: only when the rows differ from the last successful run',
    }),
  ),
  missedPolicy: Type.Optional(
    Type.Union([Type.Literal('latest'), Type.Literal('all'), Type.Literal('skip')]),
  ),
  missedCap: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  overlapPolicy: Type.Optional(Type.Union([Type.Literal('skip'), Type.Literal('queue_one')])),
  active: Type.Optional(Type.Boolean()),
  notify: Type.Optional(
    Type.Object(
      {
        emails: Type.Optional(Type.Array(Type.String({ maxLength: 320 }), { maxItems: 20 })),
        pauseAfterFailures: Type.Optional(
          Type.Integer({ minimum: 0, maximum: 100, description: '0 never pauses' }),
        ),
      },
      { additionalProperties: false },
    ),
  ),
};

export const ScheduleCreateBody = Type.Object(definition, { additionalProperties: false });
export const SchedulePatchBody = Type.Partial(Type.Object(definition), { additionalProperties: false });

export const ScheduleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    reportId: Type.String(),
    cron: Type.String(),
    timezone: Type.String(),
    description: Type.String(),
    active: Type.Boolean(),
    nextRunAt: Type.Union([Timestamp, Type.Null()]),
    upcoming: Type.Array(Timestamp),
  },
  { additionalProperties: true },
);

export const CronPreviewBody = Type.Object(
  {
    cron: Type.Optional(Cron),
    preset: Type.Optional(PresetSchema),
    timezone: Type.Optional(Zone),
    calendar: Type.Optional(Type.Union([Calendar, Type.Null()])),
    from: Type.Optional(Timestamp),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  },
  { additionalProperties: false },
);

export const CronPreviewSchema = Type.Object({
  cron: Type.String(),
  description: Type.String(),
  next: Type.Array(Timestamp),
});
