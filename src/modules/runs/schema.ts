import { type TSchema, Type } from 'typebox';
import { exportFormats, FormatOptionsSchema } from '../../engine/formats/registry.ts';
import { literals, NullableTimestamp, Timestamp } from '../../server/schemas.ts';

// The runs contract: statuses, the run as the API shows it, and the export
// request. Other modules (schedules, next deliveries) import these from here.

export const runStatuses = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'skipped_missed',
  'skipped_overlap',
  'skipped_condition',
] as const;
export type RunStatus = (typeof runStatuses)[number];
/** A run that may still change: waiting for or holding a worker. */
export const activeStatuses = ['queued', 'running'] as const satisfies readonly RunStatus[];
/** A run that has ended: the one list, so a new status is either active or here. */
export const terminalStatuses = runStatuses.filter(
  (s): s is Exclude<RunStatus, (typeof activeStatuses)[number]> =>
    !(activeStatuses as readonly string[]).includes(s),
);
export const isTerminal = (status: RunStatus): boolean =>
  (terminalStatuses as readonly string[]).includes(status);

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const ErrorStage = nullable(
  Type.Union([Type.Literal('query'), Type.Literal('file')], {
    description: 'The stage the error happened in, when known',
  }),
);
const ErrorLocation = nullable(
  Type.Object(
    { line: Type.Integer(), column: Type.Integer() },
    { description: "Where in the report's SQL a query error points (1-based)" },
  ),
);

export const deliveryStatuses = ['queued', 'sending', 'succeeded', 'failed'] as const;

export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    destinationId: nullable(Type.String({ description: 'Null once the destination is deleted' })),
    destinationName: Type.String(),
    destinationType: Type.String(),
    status: Type.String({ enum: [...deliveryStatuses] }),
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
    nextAttemptAt: Type.Union([Timestamp, Type.Null()], { description: 'While queued for a retry: when' }),
    receipt: nullable(
      Type.Object(
        { summary: Type.String(), details: Type.Record(Type.String(), Type.Unknown()) },
        {
          description:
            'What the peer answered: SMTP message id and recipients, HTTP status, S3 key and ETag, SFTP path',
        },
      ),
    ),
    error: nullable(Type.String()),
  },
  { additionalProperties: false },
);

const BurstSchema = nullable(
  Type.Object(
    {
      role: Type.Union([Type.Literal('lead'), Type.Literal('recipient')], {
        description:
          "lead: the run that read the schedule's recipients query and made one run per recipient; recipient: one of those runs",
      }),
      leadRunId: nullable(Type.String({ description: "A recipient's run: its lead (null once deleted)" })),
      recipient: nullable(Type.String({ description: "A recipient's run: the address its e-mail goes to" })),
      recipients: nullable(
        Type.Integer({
          description: 'A lead: how many recipient runs it made (null until it has read them)',
        }),
      ),
    },
    { additionalProperties: false, description: 'Bursting: null for an ordinary run' },
  ),
);

export const RunSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.String({ enum: [...runStatuses] }),
    trigger: Type.String({
      enum: ['manual', 'api', 'schedule', 'cli'],
      description: 'manual: started in the app by a user (createdBy); api: with an API key; schedule; cli',
    }),
    scheduleId: nullable(Type.String()),
    scheduleName: nullable(Type.String()),
    scheduleTimeZone: nullable(
      Type.String({ description: "The schedule's zone: scheduledFor is meant in it" }),
    ),
    createdBy: nullable(
      Type.Object(
        { id: Type.String(), name: Type.String() },
        { description: 'Who started the run (the creator of the API key for trigger api)' },
      ),
    ),
    reportId: nullable(Type.String()),
    reportName: Type.String({ description: 'As it was when the run was created' }),
    connectionId: nullable(
      Type.String({ description: 'The connection the report read when the run was created' }),
    ),
    format: Type.String(),
    formatOptions: Type.Record(Type.String(), Type.Unknown()),
    parameters: Type.Record(Type.String(), Type.Unknown(), { description: 'The values given' }),
    timezone: Type.String({ description: 'Zone of relative dates and the file name' }),
    scheduledFor: NullableTimestamp,
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
    durationMs: nullable(Type.Integer()),
    attempts: Type.Integer({ description: 'Attempts started so far' }),
    maxAttempts: Type.Integer(),
    progress: Type.Object({
      rows: Type.Integer(),
      bytes: Type.Integer(),
      percent: Type.Union([Type.Number(), Type.Null()], {
        description: 'While running: the share of the rows of the last identical successful run (at most 99)',
      }),
      expectedRows: Type.Union([Type.Integer(), Type.Null()]),
    }),
    rowCount: nullable(Type.Integer()),
    fileName: nullable(Type.String()),
    fileSize: nullable(Type.Integer()),
    contentType: nullable(Type.String()),
    checksum: nullable(Type.String({ description: 'sha256:<hex> of the file' })),
    warnings: Type.Array(
      Type.Object({ code: Type.String(), message: Type.String(), count: Type.Integer() }),
      {
        description:
          'What the file had to change in values its format cannot carry, counted per kind (e.g. characters XML 1.0 cannot hold, replaced by U+FFFD)',
      },
    ),
    cancelRequested: Type.Boolean(),
    error: nullable(
      Type.String({
        description:
          'Once the run has ended: what went wrong (the database message for a query error, ending in "(line L, column C)" when the database names a place in the SQL); for skipped_condition, why nothing was delivered',
      }),
    ),
    errorCode: nullable(
      Type.String({
        description:
          'query, transient, connection, network, storage, limit, lost, cancelled, condition, or the kind of an internal error',
      }),
    ),
    errorStage: ErrorStage,
    errorLocation: ErrorLocation,
    retrying: Type.Boolean({ description: 'Queued again after a failed attempt, waiting for the next one' }),
    lastFailure: nullable(
      Type.Object(
        {
          attempt: Type.Integer({ description: 'The attempt that failed' }),
          error: Type.String(),
          errorCode: nullable(Type.String()),
          errorStage: ErrorStage,
          errorLocation: ErrorLocation,
        },
        {
          description:
            'While retrying: the failed attempt the run waits to retry. The run itself has no error until it ends.',
        },
      ),
    ),
    nextAttemptAt: Type.Union([Timestamp, Type.Null()], {
      description: 'While retrying (on GET /runs/{id}): when the next attempt starts',
    }),
    destinationIds: Type.Array(Type.String(), { description: 'Where the file goes once it is made' }),
    burst: BurstSchema,
    deliveries: Type.Array(DeliverySchema, {
      description: 'Each destination of the run: status, attempts, timings and the peer’s answer',
    }),
    deliverySummary: Type.Object(
      {
        total: Type.Integer(),
        succeeded: Type.Integer(),
        failed: Type.Integer(),
        pending: Type.Integer({ description: 'Queued or sending' }),
      },
      {
        description: '"2 of 3 destinations delivered": a failed delivery never changes the run’s own status',
      },
    ),
    hasFile: Type.Optional(
      Type.Boolean({ description: 'GET /runs/{id}: the file can be downloaded (not expired or deleted)' }),
    ),
    file: Type.Optional(
      nullable(
        Type.Object(
          {
            state: Type.Union([Type.Literal('available'), Type.Literal('expired')]),
            expiresAt: Timestamp,
          },
          { description: 'GET /runs/{id}: the stored file, until when it is kept, or that it has expired' },
        ),
      ),
    ),
    attemptHistory: Type.Optional(
      Type.Array(
        Type.Object({
          number: Type.Integer(),
          worker: Type.String(),
          status: Type.String({ enum: ['running', 'succeeded', 'failed', 'lost', 'cancelled'] }),
          startedAt: Timestamp,
          finishedAt: NullableTimestamp,
          error: nullable(Type.String()),
        }),
        { description: 'GET /runs/{id}: every attempt, first first' },
      ),
    ),
    downloads: Type.Optional(
      Type.Array(
        Type.Object({
          via: Type.String({ enum: ['api', 'link'] }),
          actorType: nullable(Type.String()),
          actorId: nullable(Type.String()),
          ip: nullable(Type.String()),
          userAgent: nullable(Type.String()),
          range: nullable(Type.String()),
          at: Timestamp,
        }),
        { description: 'GET /runs/{id}: every download of the file' },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ExportBody = Type.Object(
  {
    reportId: Type.String({ format: 'uuid' }),
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    format: literals(exportFormats),
    formatOptions: Type.Optional(FormatOptionsSchema),
    timezone: Type.Optional(
      Type.String({
        maxLength: 100,
        description: 'IANA zone for relative dates and the file name (default UTC)',
      }),
    ),
    destinationIds: Type.Optional(
      Type.Array(Type.String({ format: 'uuid' }), {
        maxItems: 20,
        description:
          'Where the file goes once it is made (GET /api/v1/destinations); each gets it on its own',
      }),
    ),
  },
  { additionalProperties: false },
);
