import type { FastifyRequest } from 'fastify';
import {
  checkFormatOptions,
  type ExportFormat,
  exportFormats,
  FormatOptionError,
} from '../../engine/formats/registry.ts';
import { Invalid } from '../../lib/errors.ts';

// A request's formatOptions are documented by FormatOptionsSchema, a union of
// every format's options. Checked by that union alone, a wrong option would be
// answered with each format's complaint ("is not a known field" six times, "must
// match pattern …"). The format's own check runs first instead, and says once
// per option what it must be.

/** The 400 for options a format refuses: every option at fault, each with its rule. */
export function invalidFormatOptions(err: FormatOptionError): Invalid {
  return new Invalid(err.errors.map((e) => `${e.path}: ${e.message}`).join('; '), err.errors);
}

const isExportFormat = (value: unknown): value is ExportFormat =>
  typeof value === 'string' && (exportFormats as readonly string[]).includes(value);

/**
 * A route's preValidation hook for a body with `format` and `formatOptions`
 * (FormatOptionsSchema): checks the options against that format before the body
 * schema does. It runs after the auth hook, so a caller without access learns
 * nothing. Without a known format in the body it leaves the options to the body
 * schema, which then lists each format's complaint: a body that may leave the
 * format out (PATCH keeps the saved one) should take formatOptions as a plain
 * object and let the service check them against the saved format.
 */
/**
 * For a file name example: the options given must be right, but a required
 * setting not filled in yet (DATEV's consultant number while the form is half
 * done) does not change a name.
 */
export function checkGivenFormatOptions(format: ExportFormat, options: unknown): void {
  try {
    checkFormatOptions(format, options);
  } catch (err) {
    if (!(err instanceof FormatOptionError)) throw err;
    const given = err.errors.filter((e) => !e.message.startsWith('is required'));
    if (given.length > 0)
      throw invalidFormatOptions(new FormatOptionError(given[0]!.path, given[0]!.message, given));
  }
}

export async function checkGivenFormatOptionsFirst(request: FastifyRequest): Promise<void> {
  const body: unknown = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const { format, formatOptions } = body as { format?: unknown; formatOptions?: unknown };
  if (formatOptions !== undefined && isExportFormat(format)) checkGivenFormatOptions(format, formatOptions);
}

export async function checkFormatOptionsFirst(request: FastifyRequest): Promise<void> {
  const body: unknown = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const { format, formatOptions } = body as { format?: unknown; formatOptions?: unknown };
  if (formatOptions === undefined || !isExportFormat(format)) return;
  try {
    checkFormatOptions(format, formatOptions);
  } catch (err) {
    if (err instanceof FormatOptionError) throw invalidFormatOptions(err);
    throw err;
  }
}
