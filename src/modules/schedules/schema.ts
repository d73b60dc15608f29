import { Type } from 'typebox';
import { exportFormats, FormatOptionsSchema } from '../../engine/formats/registry.ts';
import { literals, Timestamp } from '../../server/schemas.ts';
import { presetKinds, weekdays } from '../../timing/presets.ts';

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
    kind: Type.Enum(presetKinds),
    time: Type.Optional(Type.String({ maxLength: 5, description: 'Local time HH:MM' })),
    minute: Type.Optional(Type.Integer({ description: 'hourly: minute past the hour' })),
    weekday: Type.Optional(Type.Enum(weekdays)),
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
// A preset whose timing a cron expression cannot say (the last business day of
// the month) has no cron: `30 17 * * *` would read as "every day at 17:30".
const CronOrNull = Type.Union([Type.String(), Type.Null()], {
  description:
    'The timing as a cron expression; null when it is a preset no cron expression can say (last business day), described in `description`',
});
const RecipientsSql = Type.Union([Type.String({ maxLength: 20000 }), Type.Null()], {
  description:
    "Bursting: a read-only query on the report's connection returning an `email` column and columns named after the report's parameters. Each row gets its own run of the report with those values, e-mailed to that address alone; null (or empty) for one run to the destinations as set.",
});
const Zone = Type.String({ maxLength: 100, description: 'IANA time zone, default UTC' });

const definition = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  reportId: Type.String({ format: 'uuid' }),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  format: literals(exportFormats),
  formatOptions: Type.Optional(FormatOptionsSchema),
  cron: Type.Optional(Cron),
  preset: Type.Optional(PresetSchema),
  timezone: Type.Optional(Zone),
  calendar: Type.Optional(Type.Union([Calendar, Type.Null()])),
  destinationIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: 20 })),
  recipientsSql: Type.Optional(RecipientsSql),
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
export const SchedulePatchBody = Type.Partial(
  Type.Object({
    ...definition,
    // Without `format` the saved format decides, which the body schema cannot know: the service checks.
    formatOptions: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'As for POST; checked against the format sent or, without one, the saved format',
      }),
    ),
  }),
  { additionalProperties: false },
);

export const ScheduleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    reportId: Type.String(),
    parameters: Type.Record(Type.String(), Type.Unknown()),
    format: Type.String(),
    formatOptions: Type.Record(Type.String(), Type.Unknown()),
    cron: CronOrNull,
    preset: Type.Union([PresetSchema, Type.Null()]),
    timezone: Type.String(),
    calendar: Type.Union([Calendar, Type.Null()]),
    description: Type.String({ description: 'The timing in words, ending with the zone' }),
    destinationIds: Type.Array(Type.String()),
    recipientsSql: RecipientsSql,
    condition: Type.Union([Type.Literal('always'), Type.Literal('has_rows'), Type.Literal('changed')]),
    missedPolicy: Type.Union([Type.Literal('latest'), Type.Literal('all'), Type.Literal('skip')]),
    missedCap: Type.Integer(),
    overlapPolicy: Type.Union([Type.Literal('skip'), Type.Literal('queue_one')]),
    active: Type.Boolean(),
    pausedReason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why a paused schedule is paused (by a user, or auto-paused after failures)',
    }),
    nextRunAt: Type.Union([Timestamp, Type.Null()]),
    upcoming: Type.Array(Timestamp),
    pendingOccurrences: Type.Array(Timestamp),
    lastRun: Type.Union([
      Type.Object({
        id: Type.String(),
        status: Type.String(),
        scheduledFor: Type.Union([Timestamp, Type.Null()]),
        createdAt: Timestamp,
        finishedAt: Type.Union([Timestamp, Type.Null()]),
      }),
      Type.Null(),
    ]),
    notify: Type.Object({
      emails: Type.Array(Type.String()),
      pauseAfterFailures: Type.Integer(),
    }),
    consecutiveFailures: Type.Integer({ description: 'Failed runs in a row since the last success' }),
    ownerId: Type.Union([Type.String(), Type.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
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
  cron: CronOrNull,
  description: Type.String(),
  next: Type.Array(Timestamp),
  occurrences: Type.Array(
    Type.Object({
      at: Timestamp,
      offsetChange: Type.Union([Type.Object({ from: Type.String(), to: Type.String() }), Type.Null()], {
        description:
          "The zone's UTC offset changes on this local day (daylight saving time), e.g. +01:00 → +02:00",
      }),
      requestedTime: Type.Union([Type.String(), Type.Null()], {
        description:
          'The local time asked for, when it does not exist that day (spring-forward gap) and the run happens at `at` instead',
      }),
    }),
  ),
  warnings: Type.Array(
    Type.Object({
      code: Type.Union([
        Type.Literal('short_months'),
        Type.Literal('frequent'),
        Type.Literal('day_or_weekday'),
      ]),
      message: Type.String(),
      day: Type.Optional(Type.Integer()),
      minutes: Type.Optional(Type.Integer()),
    }),
  ),
});
