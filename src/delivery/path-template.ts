import { localParts } from '../lib/zoned-time.ts';
import type { DeliveryContext, DeliveryFile } from './types.ts';

// Where a delivered file lands on a peer that has folders (an S3 key, an SFTP
// path): a template such as `{schedule}/{date:yyyy/MM/dd}/{file}`. The template
// is the user's and may make folders; a variable's value never may: each value
// becomes one safe path segment, so a report named "../../etc" or "a/b" cannot
// climb out of the destination's base folder or add levels of its own.

export const pathTemplateVariables = [
  { placeholder: '{report}', description: "The report's name" },
  { placeholder: '{schedule}', description: "The schedule's name (_ for a one-off export)" },
  { placeholder: '{run}', description: "The run's id" },
  { placeholder: '{file}', description: "The file's name, e.g. sales_2026-03-01.csv" },
  { placeholder: '{ext}', description: "The file's extension, e.g. csv" },
  {
    placeholder: '{date:yyyy/MM/dd}',
    description:
      "The run's time in the schedule's zone: yyyy MM dd HH mm ss in any order with - _ . / space or T between them; {date} alone is yyyy-MM-dd",
  },
] as const;

export const DEFAULT_PATH_TEMPLATE = '{file}';

const VARIABLES = ['report', 'schedule', 'run', 'file', 'ext', 'date'] as const;
type Variable = (typeof VARIABLES)[number];

export class PathTemplateError extends Error {}

export interface PathValues {
  report: string;
  schedule: string | null;
  run: string;
  file: string;
  ext: string;
  at: Date;
  timeZone: string;
}

const MAX_TEMPLATE_LENGTH = 500;
// A path component is at most 255 bytes on common file systems; room is left for ".part".
const MAX_VALUE_BYTES = 200;
const DATE_TOKENS = /yyyy|MM|dd|HH|mm|ss/g;
const HAS_DATE_TOKEN = /yyyy|MM|dd|HH|mm|ss/;
const DATE_SEPARATORS = /^[-_./ T]*$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;
/** Embeddings and overrides, isolates and the invisible direction marks. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;
const HAS_BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

type Part = { literal: string } | { variable: Variable; pattern: string | undefined };

/** Splits a template into literal text and variables, refusing what it cannot render. */
function parse(template: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    parts.push({ literal: template.slice(last, match.index) });
    parts.push(parseVariable(match[1]!));
    last = match.index + match[0].length;
  }
  parts.push({ literal: template.slice(last) });
  for (const part of parts) {
    if ('literal' in part && /[{}]/.test(part.literal))
      throw new PathTemplateError('has a { or } that does not close a variable');
  }
  return parts;
}

function parseVariable(body: string): Part {
  const colon = body.indexOf(':');
  const name = colon === -1 ? body : body.slice(0, colon);
  const pattern = colon === -1 ? undefined : body.slice(colon + 1);
  if (!(VARIABLES as readonly string[]).includes(name))
    throw new PathTemplateError(
      `unknown variable {${body}}; use {report}, {schedule}, {run}, {file}, {ext} or {date:yyyy/MM/dd}`,
    );
  if (pattern !== undefined && name !== 'date')
    throw new PathTemplateError(`{${name}} takes no pattern (only {date:…} does)`);
  if (pattern !== undefined) checkDatePattern(pattern);
  return { variable: name as Variable, pattern };
}

function checkDatePattern(pattern: string): void {
  if (!HAS_DATE_TOKEN.test(pattern))
    throw new PathTemplateError(`{date:${pattern}} uses none of yyyy MM dd HH mm ss`);
  if (!DATE_SEPARATORS.test(pattern.replace(DATE_TOKENS, '')))
    throw new PathTemplateError(
      `{date:${pattern}} may hold only yyyy MM dd HH mm ss and - _ . / space or T between them`,
    );
  // Each folder the pattern makes holds a date part: never empty, `.` or `..`.
  if (pattern.split('/').some((segment) => !HAS_DATE_TOKEN.test(segment)))
    throw new PathTemplateError(`{date:${pattern}}: each part between / must hold a date token`);
}

/**
 * Checks a template before it is saved: known variables only, a relative path
 * (the destination's base folder or prefix comes first), no `.`/`..` or empty
 * folders, no control characters, and a file name at the end.
 */
export function checkPathTemplate(template: string): void {
  if (template.trim() === '') throw new PathTemplateError('must not be empty');
  if (template.length > MAX_TEMPLATE_LENGTH)
    throw new PathTemplateError(`must be at most ${MAX_TEMPLATE_LENGTH} characters`);
  if (CONTROL.test(template) || HAS_BIDI_CONTROL.test(template))
    throw new PathTemplateError('must not contain control or text-direction characters');
  if (template.includes('\\')) throw new PathTemplateError('separates folders with /, not \\');
  if (template.startsWith('/'))
    throw new PathTemplateError('must not start with /: it is relative to the base folder or prefix');
  if (template.endsWith('/')) throw new PathTemplateError('must end with a file name, not /');
  parse(template);
  // Variables render to non-empty segments without dots of their own, so the
  // template's literal segments alone decide whether `.`/`..` or `//` can appear.
  const segments = template.replace(PLACEHOLDER, 'x').split('/');
  if (segments.some((s) => s === '')) throw new PathTemplateError('must not contain an empty folder (//)');
  if (segments.some((s) => s === '.' || s === '..'))
    throw new PathTemplateError('must not contain . or .. as a folder');
}

/** The local time of `at` in `timeZone`, written with the tokens yyyy MM dd HH mm ss. */
export function formatLocalDate(at: Date, timeZone: string, pattern: string): string {
  const p = localParts(at, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  const tokens: Record<string, string> = {
    yyyy: String(p.year).padStart(4, '0'),
    MM: two(p.month),
    dd: two(p.day),
    HH: two(p.hour),
    mm: two(p.minute),
    ss: two(p.second),
  };
  return pattern.replace(DATE_TOKENS, (t) => tokens[t]!);
}

/**
 * One path segment from any text: no folder separators, control or
 * text-direction characters, no `..`, not only dots (so never `.` or `..`),
 * at most 200 bytes; empty becomes `_`.
 */
export function safePathSegment(value: string): string {
  const cleaned = value
    .normalize('NFC')
    .replace(BIDI_CONTROLS, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must go
    .replace(/[/\\\u0000-\u001f\u007f-\u009f]+/g, '_')
    .replace(/\.{2,}/g, '.')
    .trim();
  if (/^\.*$/.test(cleaned)) return '_';
  return truncateBytes(cleaned, MAX_VALUE_BYTES);
}

function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char) > max) break;
    out += char;
  }
  return out;
}

/** Renders a template checked by checkPathTemplate; throws PathTemplateError for one that is not. */
export function renderPathTemplate(template: string, values: PathValues): string {
  checkPathTemplate(template);
  const rendered = parse(template)
    .map((part) => ('literal' in part ? part.literal : renderVariable(part, values)))
    .join('');
  // The last guard, on what reaches the peer: the rules above already keep
  // empty, . and .. folders out of both the template and the values.
  const segments = rendered.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    throw new PathTemplateError(`renders to "${rendered}", which has an empty, . or .. folder`);
  return rendered;
}

function renderVariable(part: { variable: Variable; pattern: string | undefined }, v: PathValues): string {
  switch (part.variable) {
    case 'date':
      // Only digits and the pattern's own separators: its / makes folders on purpose.
      return formatLocalDate(v.at, v.timeZone, part.pattern ?? 'yyyy-MM-dd');
    case 'schedule':
      return safePathSegment(v.schedule ?? '');
    default:
      return safePathSegment(v[part.variable]);
  }
}

/** The extension of a file name (after the last dot), or '' when it has none. */
function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 ? fileName.slice(dot + 1) : '';
}

/** The values a delivery's path is made of. */
export function pathValuesFor(file: DeliveryFile, ctx: DeliveryContext): PathValues {
  return {
    report: ctx.reportName,
    schedule: ctx.scheduleName,
    run: ctx.runId,
    file: file.fileName,
    ext: extensionOf(file.fileName) || ctx.format,
    at: ctx.runAt,
    timeZone: ctx.timeZone,
  };
}
