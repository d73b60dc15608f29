import { Type } from 'typebox';
import {
  DEFAULT_FILE_NAME,
  FileNameError,
  fileNamePlaceholders,
  renderFileName,
} from '../../engine/formats/file-name.ts';
import {
  type Compression,
  commonOptionSpecs,
  compressionOf,
  type ExportFormat,
  exportFormats,
  FormatOptionError,
  type FormatOptionSpec,
  FormatOptionsSchema,
  formatFacts,
  formatOptionSpecs,
} from '../../engine/formats/registry.ts';
import { Invalid } from '../../lib/errors.ts';
import { isValidTimeZone } from '../../lib/zoned-time.ts';
import { requirePrincipal } from '../../server/plugins/auth.ts';
import { authErrors, IdParams, literals, ProblemSchema, Timestamp } from '../../server/schemas.ts';
import type { App } from '../../server/types.ts';
import type { Deps } from '../deps.ts';
import {
  checkFormatOptionsFirst,
  checkGivenFormatOptions,
  checkGivenFormatOptionsFirst,
  invalidFormatOptions,
} from './check-options.ts';
import { checkReportFormat } from './check-sample.ts';

// The export formats and their options, described from the schemas that
// validate them (so forms cannot offer an option a run would refuse), and the
// file name a run would write, rendered by the run's own code.

const OptionSchema = Type.Object({
  name: Type.String(),
  type: Type.String({
    enum: ['string', 'boolean', 'integer', 'enum', 'json'],
    description: 'json: a structured option (an accounting mapping, a field list), its default as JSON text',
  }),
  values: Type.Optional(Type.Array(Type.String(), { description: 'enum: the values allowed' })),
  default: Type.Optional(
    Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
      description: 'Used when the option is left out; absent when it depends on the export',
    }),
  ),
  minimum: Type.Optional(Type.Number()),
  maximum: Type.Optional(Type.Number()),
  minLength: Type.Optional(Type.Integer()),
  maxLength: Type.Optional(Type.Integer()),
  description: Type.String(),
});

const FormatsSchema = Type.Object({
  formats: Type.Array(
    Type.Object({
      format: Type.String({ enum: [...exportFormats] }),
      extension: Type.String(),
      contentType: Type.String(),
      options: Type.Array(OptionSchema, { description: "The format's own options" }),
      fields: Type.Optional(
        Type.Array(
          Type.Object({
            key: Type.String(),
            label: Type.String({ description: "The name in the format's own documentation" }),
            required: Type.Boolean(),
            defaults: Type.Array(Type.String(), {
              description: 'Report columns that fill the field when the mapping leaves it out, in order',
            }),
            description: Type.String(),
          }),
          { description: 'Accounting formats: the fields formatOptions.mapping fills' },
        ),
      ),
    }),
  ),
  common: Type.Array(OptionSchema, { description: 'Options every format takes (in formatOptions too)' }),
  fileName: Type.Object({
    default: Type.String({ description: 'The template used when fileName is left out' }),
    placeholders: Type.Array(Type.Object({ placeholder: Type.String(), description: Type.String() })),
  }),
});

const FileNameBody = Type.Object(
  {
    format: literals(exportFormats),
    formatOptions: Type.Optional(FormatOptionsSchema),
    reportName: Type.String({ minLength: 1, maxLength: 200 }),
    timezone: Type.Optional(Type.String({ maxLength: 100, description: "The run's zone (default UTC)" })),
    at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: "The run's scheduled or start time (default now)",
      }),
    ),
  },
  { additionalProperties: false },
);

/** The name of the file a run writes: the template rendered, then .gz or .zip when compressed. */
export function runFileName(
  format: ExportFormat,
  options: Record<string, unknown>,
  values: { reportName: string; runId: string; at: Date; timeZone: string },
): { fileName: string; compression: Compression } {
  try {
    // Every option given is checked (fileName's type and length among them); a required one not given yet is no matter here.
    checkGivenFormatOptions(format, options);
    const spec = formatFacts(format);
    const compression = compressionOf(options);
    const template = (options['fileName'] as string | undefined) ?? spec.fileName ?? DEFAULT_FILE_NAME;
    const name = renderFileName(template, {
      report: values.reportName,
      runId: values.runId,
      ext: spec.extension,
      at: values.at,
      timeZone: values.timeZone,
    });
    const suffix = compression === 'gzip' ? '.gz' : compression === 'zip' ? '.zip' : '';
    return { fileName: `${name}${suffix}`, compression };
  } catch (err) {
    if (err instanceof FormatOptionError) throw invalidFormatOptions(err);
    if (err instanceof FileNameError) throw Invalid.field('formatOptions.fileName', err.message);
    throw err;
  }
}

const described = ({ values, ...o }: FormatOptionSpec) => ({
  ...o,
  ...(values ? { values: [...values] } : {}),
});

export function describeFormats() {
  return {
    formats: exportFormats.map((format) => {
      const facts = formatFacts(format);
      return {
        format,
        extension: facts.extension,
        contentType: facts.contentType,
        options: formatOptionSpecs[format].map(described),
        ...(facts.fields ? { fields: facts.fields.map((f) => ({ ...f, defaults: [...f.defaults] })) } : {}),
      };
    }),
    common: commonOptionSpecs.map((o) => ({
      ...described(o),
      ...(o.name === 'fileName' ? { default: DEFAULT_FILE_NAME } : {}),
    })),
    fileName: {
      default: DEFAULT_FILE_NAME,
      placeholders: fileNamePlaceholders.map((p) => ({ ...p })),
    },
  };
}

export function registerFormatRoutes(app: App, deps: Deps): void {
  app.post(
    '/api/v1/reports/:id/format-check',
    {
      config: { auth: { permission: 'reports:read' as const }, resource: 'report' },
      preValidation: checkFormatOptionsFirst,
      schema: {
        tags: ['reports'],
        summary:
          "Validate a format's settings and mapping on the report's first rows, and show the file's first lines; no file",
        description:
          "Runs the report (at most `rows` rows, default 1000) through the format's writer as a run would. A row the format cannot take (an unmapped field, a date outside the period, an account too long) comes back as `problem` with its row and field; `ok` is then false.",
        params: IdParams,
        body: Type.Object(
          {
            format: literals(exportFormats),
            formatOptions: Type.Optional(FormatOptionsSchema),
            parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
            timezone: Type.Optional(Type.String({ maxLength: 100 })),
            rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            rowsChecked: Type.Integer(),
            problem: Type.Union([
              Type.Object({
                message: Type.String(),
                row: Type.Union([Type.Integer(), Type.Null()], {
                  description: '1-based, as the report returns rows',
                }),
                field: Type.Union([Type.String(), Type.Null()]),
              }),
              Type.Null(),
            ]),
            warnings: Type.Array(
              Type.Object({ code: Type.String(), message: Type.String(), count: Type.Integer() }),
            ),
            preview: Type.Union([Type.String(), Type.Null()], {
              description: "The file's first lines as text; null for XLSX and PDF",
            }),
          }),
          404: ProblemSchema,
          422: ProblemSchema,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort(new Error('The client closed the request'));
      });
      return checkReportFormat(
        deps,
        requirePrincipal(request.principal),
        request.params.id,
        request.body as Parameters<typeof checkReportFormat>[3],
        gone.signal,
      );
    },
  );

  app.get(
    '/api/v1/formats',
    {
      config: { auth: 'authenticated' },
      schema: {
        tags: ['runs'],
        summary: 'Export formats with their extension, content type and options',
        description:
          'Each option with its type, allowed values, default and description, as the export and schedule requests validate them; plus the options every format takes (compression, fileName) and the file-name placeholders.',
        response: { 200: FormatsSchema, ...authErrors },
      },
    },
    async () => describeFormats(),
  );

  app.post(
    '/api/v1/formats/file-name',
    {
      config: { auth: 'authenticated' },
      preValidation: checkGivenFormatOptionsFirst,
      schema: {
        tags: ['runs'],
        summary: 'The file name a run would write, for a report, format, options, zone and time',
        description:
          "Rendered by the run's own code. {run} shows as the first 8 characters of a sample id, since the run does not exist yet. A wrong option or template is a 400 naming it.",
        body: FileNameBody,
        response: {
          200: Type.Object({
            fileName: Type.String(),
            compression: Type.String({ enum: ['none', 'gzip', 'zip'] }),
            at: Timestamp,
            timezone: Type.String(),
          }),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const b = request.body;
      const timeZone = b.timezone ?? 'UTC';
      if (!isValidTimeZone(timeZone))
        throw Invalid.field('timezone', `"${timeZone}" is not an IANA time zone such as Europe/Berlin`);
      const at = b.at ? new Date(b.at) : deps.clock.now();
      const result = runFileName(b.format, b.formatOptions ?? {}, {
        reportName: b.reportName,
        runId: '0a1b2c3d-0000-4000-8000-000000000000',
        at,
        timeZone,
      });
      return { ...result, at: at.toISOString(), timezone: timeZone };
    },
  );
}
